"""Decode and score cut sets with one loaded E2E model: every (set, stream condition, method)
a recipe asks for in one process (the model is loaded once, each set's features once, each
(set, dropped stream) encoded once).

Per job the output directory ``<exp>/decode_epoch<E>_avg<A>/<set>[_no-<stream>]/<label>/``
(``label`` = the method, with the graph dir's name for graph methods, e.g.
``hlg_1best_hlg_grid_phone``) gets ``hyp.txt`` / ``ref.txt`` (Kaldi ``text``), ``wer`` or
``per`` (a ``%WER ...`` line as steps/score.py writes), ``per_utt`` alignments and
``score.json``: system, model, fusion, units, set, noise, snr, modality, method, the rate under
``metric`` (``wer`` for word outputs, ``per`` for the phone strings of phone-unit token searches),
counts, ``search_failures`` (utterances whose graph search reached no final state: scored with
their best partial path), decode / encoder / audio seconds and RTF.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import torch

from avsr.e2e.decode import SearchOptions, Searcher, load_e2e_model
from avsr.score.wer import compute_error_stats, format_alignments
from avsr.train.data import FeatureCache, collate, cuts_path, eval_batches, load_cuts
from avsr.utils.io import write_json_atomic, write_text_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class DecodeJob:
    sets: list[str]
    methods: list[str]  # method specs, ``method`` or ``method=GRAPH_DIR``
    drop: Optional[str] = None  # "audio" | "video": an AV model with that stream missing


def parse_condition(test_set: str) -> tuple[str, str, Optional[float]]:
    """'test_babble_snr-5' → ('test', 'babble', -5.0); 'test' → ('test', 'clean', None)."""
    m = re.match(r"^(.*?)_(white|babble\w*)_snr(-?\d+(?:\.\d+)?)$", test_set)
    if not m:
        return test_set, "clean", None
    return m.group(1), m.group(2), float(m.group(3))


def write_scores(out_dir: PathLike, refs: dict[str, list[str]], hyps: dict[str, list[str]],
                 meta: dict[str, Any], metric: str = "wer") -> dict[str, Any]:
    """hyp.txt, ref.txt, ``wer`` (or ``per``), per_utt, score.json in ``out_dir``; returns the
    score record (the rate under the key ``metric``, and ``metric`` itself)."""
    out_dir = Path(out_dir)
    stats = compute_error_stats(refs, hyps)
    write_text_atomic(out_dir / "hyp.txt", "".join(f"{u} {' '.join(hyps.get(u, []))}".rstrip() + "\n" for u in sorted(refs)))
    write_text_atomic(out_dir / "ref.txt", "".join(f"{u} {' '.join(refs[u])}\n" for u in sorted(refs)))
    write_text_atomic(out_dir / metric, stats.kaldi_line(metric.upper()) + "\n")
    write_text_atomic(out_dir / "per_utt", format_alignments(stats))
    record = dict(meta, metric=metric, errors=stats.errors, ref_words=stats.ref_len, ins=stats.ins,
                  dels=stats.dels, subs=stats.subs, num_utts=len(refs))
    record[metric] = round(stats.rate, 3)
    write_json_atomic(out_dir / "score.json", record)
    return record


@torch.no_grad()
def _decode_set(model, cache: FeatureCache, searchers: Sequence[Searcher], drop: Optional[str],
                device: torch.device) -> tuple[dict[str, dict[str, list[str]]], dict[str, float], dict[str, int], float]:
    """(label → utt → output symbols, label → seconds incl. the encoder, label → failures, encoder s)."""
    hyps = {s.label: {} for s in searchers}
    seconds = {s.label: 0.0 for s in searchers}
    failures = {s.label: 0 for s in searchers}
    encode_seconds = 0.0
    for ids in eval_batches(cache, 60.0):
        batch = collate([cache.utts[i] for i in ids]).to(device)
        t0 = time.perf_counter()
        enc, lengths = model.encode(batch, drop=drop)
        encode_seconds += time.perf_counter() - t0
        for searcher in searchers:
            t0 = time.perf_counter()
            for b, utt in enumerate(ids):
                result = searcher(enc[b], int(lengths[b]))
                hyps[searcher.label][utt] = result.text.split()
                failures[searcher.label] += int(result.partial)
            seconds[searcher.label] += time.perf_counter() - t0
    return hyps, {k: v + encode_seconds for k, v in seconds.items()}, failures, encode_seconds


def aligned_reference_phones(ali_dir: Optional[PathLike], set_name: str, cache: FeatureCache) -> int:
    """Phone references for a words-only corpus: the forced alignment of the clean set
    (``<ali_dir>/ali_<base set>.npz`` with ``<ali_dir>/phones.txt``), for the utterances that have
    no phone alignment of their own; a noisy copy's id is the clean id + ``_<noise>_snr<N>``."""
    from avsr.hmm.alignment import read_alignments
    from avsr.lang.symbols import read_symbol_table

    if ali_dir is None:
        return 0
    base, noise, snr = parse_condition(set_name)
    path, table_path = Path(ali_dir) / f"ali_{base}.npz", Path(ali_dir) / "phones.txt"
    if not (path.is_file() and table_path.is_file()):
        return 0
    table, alignments = read_symbol_table(table_path), read_alignments(path)
    suffix = f"_{set_name[len(base) + 1:]}" if noise != "clean" else ""
    filled = 0
    for utt_id, utt in cache.utts.items():
        ali = alignments.get(utt_id[: len(utt_id) - len(suffix)] if suffix and utt_id.endswith(suffix) else utt_id)
        if not utt.phones and ali is not None:
            utt.phones = [table.symbol(p) for p, _, _ in ali.phone_segments()]
            filled += 1
    return filled


def run_decode_jobs(exp_dir: PathLike, data_dir: PathLike, corpus: str, jobs: Iterable[DecodeJob],
                    epoch: Optional[int] = None, avg: int = 1, opts: SearchOptions = SearchOptions(),
                    device: str = "cpu", caches: Optional[dict[str, FeatureCache]] = None,
                    ali_dir: Optional[PathLike] = None) -> list[dict[str, Any]]:
    """Decode every job; returns the score records (also written to disk). ``caches`` may hold
    already loaded sets (name → cache); others are loaded from ``data_dir`` once. ``ali_dir``
    (e.g. exp/tri): forced alignments that give phone references to words-only corpora."""
    exp_dir, dev = Path(exp_dir), torch.device(device)
    model, cfg, tokenizer, epoch = load_e2e_model(exp_dir, epoch, avg, dev)
    fusion = cfg["frontend"]["fusion"]
    video_input = cfg["frontend"].get("video_input", "pixels")
    caches = dict(caches or {})
    searchers: dict[str, Searcher] = {}
    records = []
    for job in jobs:
        for spec in job.methods:
            if spec not in searchers:
                searchers[spec] = Searcher(model, tokenizer, spec, opts, dev)
        modality = {"audio": "A", "video": "V"}.get(fusion, "AV")
        if job.drop:
            modality = {"audio": "V", "video": "A"}[job.drop] + f"(of {modality}-{fusion})"
        for name in job.sets:
            if name not in caches:
                caches[name] = FeatureCache(load_cuts(cuts_path(data_dir, corpus, name)), desc=f"load {name}",
                                            video_input=video_input)
                if tokenizer.unit == "phone":
                    aligned_reference_phones(ali_dir, name, caches[name])
            cache = caches[name]
            cache.check_video(fusion, name)
            job_searchers = [searchers[s] for s in job.methods]
            hyps, seconds, failures, enc_s = _decode_set(model, cache, job_searchers, job.drop, dev)
            base, noise, snr = parse_condition(name)
            audio_seconds = sum(u.duration for u in cache.utts.values())
            refs = {u.id: u.text.split() for u in cache.utts.values()}
            phone_refs = ({u.id: tokenizer.decode(tokenizer.encode(u.text, u.phones)).split() for u in cache.utts.values()}
                          if tokenizer.unit == "phone" else {})
            for s in job_searchers:
                phone_output = tokenizer.unit == "phone" and not s.words_out
                metric = "per" if phone_output else "wer"
                out = exp_dir / f"decode_epoch{epoch}_avg{avg}" / (name + (f"_no-{job.drop}" if job.drop else "")) / s.label
                meta = {"system": exp_dir.name, "model": cfg["model"], "fusion": fusion, "units": tokenizer.unit,
                        "modality": modality, "test_set": name, "base_set": base, "noise": noise, "snr": snr,
                        "method": s.label, "graph": s.graph_dir, "epoch": epoch, "avg": avg,
                        "search_failures": failures[s.label], "decode_seconds": round(seconds[s.label], 3),
                        "encoder_seconds": round(enc_s, 3), "audio_seconds": round(audio_seconds, 3),
                        "rtf": round(seconds[s.label] / max(audio_seconds, 1e-9), 5), "options": asdict(opts)}
                rec = write_scores(out, phone_refs if phone_output else refs, hyps[s.label], meta, metric)
                log.info("%s %s%s %s: %%%s %.2f (RTF %.4f%s)", exp_dir.name, name, f" no-{job.drop}" if job.drop else "",
                         s.label, metric.upper(), rec[metric], rec["rtf"],
                         f", {failures[s.label]} search failures" if failures[s.label] else "")
                records.append(rec)
    return records


def decode_sets(exp_dir: PathLike, caches: dict[str, FeatureCache], methods: Optional[Sequence[str]] = None,
                epoch: Optional[int] = None, avg: int = 1, drop: Optional[str] = None,
                opts: SearchOptions = SearchOptions(), device: str = "cpu") -> list[dict[str, Any]]:
    """Decode already loaded cut sets with the given methods (default: every token-output method
    of the model); returns the score records."""
    if methods is None:
        from avsr.e2e.decode import GRAPH_METHODS, load_e2e_model as _load, methods_for

        model = _load(exp_dir, epoch, avg)[0]
        methods = [m for m in methods_for(model) if m not in GRAPH_METHODS]
    job = DecodeJob(list(caches), list(methods), drop)
    return run_decode_jobs(exp_dir, "", "", [job], epoch, avg, opts, device, caches)
