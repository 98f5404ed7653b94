"""Stage 2 as a whole: training and test noise sources, noisy test sets, the multi-condition train set.

Layout (``noise_dir``)::

    train/{babble,white}_train_NN.wav    training noise: babble of training talkers, white from training seeds
    test/{babble,white}_test_NN.wav      test noise: babble of held-out talkers, white from other seeds
    train_noise_recordings.jsonl.gz      RecordingSet of the training noise (on-the-fly mixing; schema in avsr.data.noise)
    test_noise_recordings.jsonl.gz       RecordingSet of the test noise (absent with ``test_noise: matched``)
    noise_sources.json                   which talkers and seeds each noise was made from, which set uses which noise

and in ``manifest_dir``: ``<corpus>_cuts_<split>_<type>_snr<N>`` (test noise, the default test sets),
``<corpus>_cuts_<split>_<type>matched_snr<N>`` (training noise, ``matched_test_sets``),
``<corpus>_cuts_train_multi`` (training noise only) and ``<corpus>_recordings_noise`` (all noise).

Test babble talkers, first available of ``babble.test_sources``: ``noise_talkers`` (the talkers the
corpus generator made for the test babble only, ``<index_dir>/noise_talkers.jsonl``), ``dev``
(held-out dev speakers). With none, the test babble falls back to training talkers, loudly
(a warning, and ``noise_sources.json`` says the babble is matched).
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Optional, Union

from lhotse import CutSet, Recording, RecordingSet

from avsr.data.manifests import load_cuts, manifest_path, save_cuts
from avsr.data.noise import make_babble, make_white_noise, mix_condition, multi_condition, parse_conditions
from avsr.data.records import read_records
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path, write_json_atomic

log = logging.getLogger(__name__)
PathLike = Union[str, Path]
SAMPLING_RATE = 16000
TEST_NOISE_MODES = ("unmatched", "matched")


def _seed(*parts: object) -> int:
    """A 63-bit seed from the parts' text: the test noise never reuses a training seed."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "little") >> 1


def _speakers(cuts: CutSet) -> list[str]:
    return sorted({s.speaker for c in cuts for s in c.supervisions if s.speaker} or {c.recording_id for c in cuts})


def noise_talker_cuts(index_dir: Optional[Path]) -> Optional[tuple[CutSet, list[str]]]:
    """Cuts of the corpus generator's noise talkers (audio only) and their ids, if any."""
    if index_dir is None or not (index_dir / "noise_talkers.jsonl").is_file():
        return None
    records = read_records(index_dir / "noise_talkers.jsonl")
    if not records:
        return None
    recordings = RecordingSet.from_recordings(Recording.from_file(r.audio_path, recording_id=r.utt_id) for r in records)
    return CutSet.from_manifests(recordings=recordings), sorted({r.speaker for r in records})


def _test_babble_source(conf: dict, manifest_dir: Path, corpus: str, index_dir: Optional[Path],
                        train_cuts: CutSet) -> tuple[str, CutSet, list[str]]:
    """(source name, cuts, talkers) for the test babble: the first available held-out source."""
    for source in conf["babble"].get("test_sources", ["noise_talkers", "dev"]):
        if source == "noise_talkers":
            found = noise_talker_cuts(index_dir)
            if found is not None:
                return source, found[0], found[1]
        elif source in ("train", "test"):
            raise AvsrInputError(None, f"babble.test_sources: {source!r} is not held out from training and testing")
        else:
            path = manifest_path(manifest_dir, corpus, "cuts", source)
            if path.is_file():
                cuts = load_cuts(path)
                if len(cuts):
                    return source, cuts, _speakers(cuts)
    log.warning("no held-out talkers for the test babble (tried %s): it falls back to TRAINING talkers "
                "(matched babble; noise_sources.json says so)", conf["babble"].get("test_sources"))
    return "train (fallback: matched)", train_cuts, _speakers(train_cuts)


def _noise_set(role: str, conf: dict, noise_dir: Path, babble_cuts: Optional[CutSet], white_seeds: list[int],
               babble_seeds: list[int], force: bool) -> RecordingSet:
    recordings = []
    for i, seed in enumerate(white_seeds):
        path = noise_dir / role / f"white_{role}_{i:02d}.wav"
        if force:
            path.unlink(missing_ok=True)
        recordings.append(make_white_noise(path, conf["white"]["duration_s"], SAMPLING_RATE, seed))
    for i, seed in enumerate(babble_seeds):
        path = noise_dir / role / f"babble_{role}_{i:02d}.wav"
        if force:
            path.unlink(missing_ok=True)
        recordings.append(make_babble(path, babble_cuts, conf["babble"]["num_talkers"], conf["babble"]["duration_s"],
                                      SAMPLING_RATE, seed=seed))
    return RecordingSet.from_recordings(recordings)


def make_noisy_sets(manifest_dir: PathLike, corpus: str, noise_dir: PathLike, conf: dict, seed: int,
                    index_dir: Optional[PathLike] = None) -> dict:
    """Everything stage 2 writes (see the module docstring); returns the provenance record."""
    manifest_dir, noise_dir = Path(manifest_dir), Path(noise_dir)
    index_dir = Path(index_dir) if index_dir is not None else None
    mode = conf.get("test_noise", "unmatched")
    if mode not in TEST_NOISE_MODES:
        raise AvsrInputError(None, f"test_noise: {mode!r}: expected one of {TEST_NOISE_MODES}")
    noise_types = conf["noise_types"]
    use_babble = "babble" in noise_types
    load = lambda split: load_cuts(manifest_path(manifest_dir, corpus, "cuts", split))  # noqa: E731
    train_cuts = load(conf["babble"]["source_split"]) if use_babble else None
    n_babble = conf["babble"]["num_recordings"] if use_babble else 0
    n_white = conf["white"].get("num_recordings", 1)

    # Training noise keeps the seeds stage 2 always used (the same samples as before issue 13).
    train_white_seeds = [seed + i for i in range(n_white)]
    train_babble_seeds = [seed * 1000 + i for i in range(n_babble)]
    test_white_seeds = [_seed("white-test", seed, i) for i in range(n_white)]
    test_babble_seeds = [_seed("babble-test", seed, i) for i in range(n_babble)]
    source, babble_test_cuts, test_talkers = ("", None, [])
    if use_babble and mode == "unmatched":
        source, babble_test_cuts, test_talkers = _test_babble_source(conf, manifest_dir, corpus, index_dir, train_cuts)
    train_talkers = _speakers(train_cuts) if use_babble else []
    overlap = sorted(set(train_talkers) & set(test_talkers))
    if overlap and not source.startswith("train"):
        log.warning("test babble talkers %s are also training talkers", overlap)

    params = {"conf": conf, "seed": seed, "corpus": corpus, "test_babble_source": source,
              "test_babble_utts": sorted(babble_test_cuts.ids) if babble_test_cuts is not None else [],
              "train_babble_utts": sorted(train_cuts.ids) if train_cuts is not None else []}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
    sources_json = noise_dir / "noise_sources.json"
    previous = json.loads(sources_json.read_text()).get("params") if sources_json.is_file() else None
    force = previous != digest  # other inputs than last time: remake everything, reuse nothing
    if force and previous is not None:
        log.info("stage-2 inputs changed since %s was written: remaking all noise and noisy sets", sources_json)

    train_noise = _noise_set("train", conf, noise_dir, train_cuts, train_white_seeds, train_babble_seeds, force)
    test_noise = (_noise_set("test", conf, noise_dir, babble_test_cuts, test_white_seeds, test_babble_seeds, force)
                  if mode == "unmatched" else train_noise)
    for name, recs in (("train", train_noise), ("test", test_noise if mode == "unmatched" else None)):
        path = noise_dir / f"{name}_noise_recordings.jsonl.gz"
        if recs is None:
            path.unlink(missing_ok=True)
            continue
        with atomic_path(path) as tmp:
            recs.to_file(tmp)
    all_noise = RecordingSet.from_recordings(list(train_noise) + (list(test_noise) if mode == "unmatched" else []))
    with atomic_path(manifest_path(manifest_dir, corpus, "recordings", "noise")) as tmp:
        all_noise.to_file(tmp)
    log.info("training noise: %s; test noise: %s", ", ".join(train_noise.ids),
             ", ".join(test_noise.ids) if mode == "unmatched" else "the training noise (test_noise: matched)")

    uses: dict[str, str] = {}
    jobs = [(cond, test_noise, "test noise" if mode == "unmatched" else "training noise (matched)")
            for cond in parse_conditions(noise_types, conf["snrs_db"])]
    matched = conf.get("matched_test_sets") or {}
    matched_types = [t for t in matched.get("noise_types", []) if t in noise_types]  # only noise that exists
    if mode == "unmatched" and matched_types:
        jobs += [(cond, train_noise, "training noise (matched)")
                 for cond in parse_conditions(matched_types, matched["snrs_db"], matched=True)]
    for split in conf["noisy_splits"]:
        cuts = None
        for cond, noise, what in jobs:
            name = f"{split}_{cond.name}"
            out = manifest_path(manifest_dir, corpus, "cuts", name)
            uses[name] = what
            if out.is_file() and not force:
                continue
            cuts = cuts if cuts is not None else load(split)
            save_cuts(mix_condition(cuts, noise, cond, seed), out)
            log.info("wrote %s (%d cuts, %s)", out, len(cuts), what)
    multi = conf.get("multi_condition_train", {})
    if multi.get("enabled"):
        out = manifest_path(manifest_dir, corpus, "cuts", "train_multi")
        uses["train_multi"] = "training noise"
        if force or not out.is_file():
            train_conditions = parse_conditions(noise_types, multi["snrs_db"])
            save_cuts(multi_condition(load("train"), train_noise, train_conditions, multi["clean_prob"], seed), out)
            log.info("wrote %s", out)

    record = {
        "params": digest,
        "test_noise": mode,
        "train": {"babble_talkers": train_talkers, "babble_seeds": train_babble_seeds, "white_seeds": train_white_seeds,
                  "recordings": sorted(train_noise.ids)},
        "test": ({"babble_source": source, "babble_talkers": test_talkers, "babble_seeds": test_babble_seeds,
                  "white_seeds": test_white_seeds, "recordings": sorted(test_noise.ids),
                  "babble_matched": bool(overlap) or source.startswith("train")}
                 if mode == "unmatched" else {"recordings": "the training noise"}),
        "sets": dict(sorted(uses.items())),
    }
    write_json_atomic(sources_json, record)
    return record
