"""Embedded synthetic GRID corpus (stage 0): tiny preset end to end."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from avsr.corpora.synthetic.corpus import generate_corpus
from avsr.corpora.synthetic.config import load_preset
from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.data.records import read_records
from avsr.video.io import probe_video

REPO = Path(__file__).resolve().parents[1]
SEED = 7
SPLITS = load_preset("tiny").splits  # train, dev, test, test_unseenaccent


def _generate(root: Path, num_jobs: int):
    return generate_corpus(root / "corpus", load_preset("tiny"), SEED, num_jobs, root / "index")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "corpus").rglob("*")) if p.is_file()}


def _index(root: Path) -> dict[str, str]:
    # Records hold absolute paths: compare them relative to the corpus root.
    return {p.name: p.read_text().replace(str((root / "corpus").resolve()), "<corpus>") for p in sorted((root / "index").iterdir())}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_nj2")
    records = _generate(root, num_jobs=2)
    return root, records


def test_splits_are_speaker_disjoint_and_sized(corpus):
    root, records = corpus
    speakers = {split: {r.speaker for r in records[split]} for split in SPLITS}
    assert SPLITS == ("train", "dev", "test", "test_unseenaccent")
    assert [len(speakers[s]) for s in SPLITS] == [2, 1, 1, 1]
    assert [len(records[s]) for s in SPLITS] == [20, 10, 10, 10]
    assert sum(len(speakers[s]) for s in SPLITS) == len(set().union(*speakers.values()))  # speaker-disjoint
    for split in SPLITS:
        assert read_records(root / "index" / f"{split}.jsonl") == records[split]
    stats = json.loads((root / "index" / "corpus_stats.json").read_text())["splits"]
    assert stats["total"]["utterances"] == 50 and stats["train"]["speakers"] == 2
    assert 0.01 < stats["train"]["hours"] < 0.03
    spk_info = json.loads((root / "index" / "speakers.json").read_text())
    assert {spk: info["split"] for spk, info in spk_info.items()} == {
        "s01": "train", "s02": "train", "s03": "dev", "s04": "test", "s05": "test_unseenaccent",
        "n01": "noise", "n02": "noise"}
    assert len({info["voice_name"] for info in spk_info.values()}) == 7
    # Unseen voices: no held-out variant is a training one; dev/test accents are training accents,
    # test_unseenaccent's are not (nor dev's or test's).
    by_split = {}
    for info in spk_info.values():
        by_split.setdefault(info["split"], []).append(info)
    train_bases = {t["base_voice"] for t in by_split["train"]}
    variants = [info["variant"] for info in spk_info.values() if info["split"] != "train"]
    assert len(set(variants)) == len(variants) and not set(variants) & {t["variant"] for t in by_split["train"]}
    assert {i["base_voice"] for s in ("dev", "test") for i in by_split[s]} <= train_bases
    assert not {i["base_voice"] for i in by_split["test_unseenaccent"]} & {
        i["base_voice"] for s in ("train", "dev", "test") for i in by_split[s]}


def test_noise_talkers_are_audio_only_and_listed(corpus):
    root, records = corpus
    noise = read_records(root / "index" / "noise_talkers.jsonl")
    assert len(noise) == 2 * 5 and {r.speaker for r in noise} == {"n01", "n02"}
    for rec in noise:
        assert rec.video_path is None and rec.face_boxes is None
        assert sf.info(rec.audio_path).samplerate == 16000
    assert not list((root / "corpus" / "n01").glob("*.mp4"))
    stats = json.loads((root / "index" / "corpus_stats.json").read_text())["splits"]
    assert stats["noise_talkers"]["utterances"] == 10 and stats["total"]["speakers"] == 5


def test_lip_leads_are_recorded_in_range(corpus):
    root, records = corpus
    leads = json.loads((root / "index" / "lip_leads.json").read_text())
    assert sorted(leads) == sorted(r.utt_id for recs in records.values() for r in recs)
    assert all(0.04 <= v <= 0.12 for v in leads.values()) and len(set(leads.values())) > 1
    sidecar = json.loads(Path(records["test"][0].audio_path).with_suffix(".json").read_text())
    assert sidecar["lip_lead_s"] == leads[records["test"][0].utt_id]


def test_utterances_are_unique_grid_sentences(corpus):
    _, records = corpus
    for recs in records.values():
        for rec in recs:
            spk, code = rec.utt_id.split("_")
            assert spk == rec.speaker and len(code) == 6
            assert [w.symbol for w in rec.words] == rec.text.split()
    ids = [r.utt_id for recs in records.values() for r in recs]
    assert len(set(ids)) == len(ids)


def test_media_files_match(corpus):
    _, records = corpus
    for rec in [r for recs in records.values() for r in recs]:
        info = sf.info(rec.audio_path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        duration = info.frames / info.samplerate
        assert 1.5 < duration < 4.0
        probe = probe_video(rec.video_path)
        assert probe.fps == 25 and probe.has_audio and probe.audio_sampling_rate == 16000
        assert abs(probe.num_frames - duration * 25) <= 1
        assert len(rec.face_boxes) == round(duration * 25)
        assert all(len(b) == 4 and b[2] > 0 and b[3] > 0 for b in rec.face_boxes)
        # Timings: leading/trailing silence (0.3-0.5 s), phones ordered and inside the clip.
        assert 0.29 < rec.words[0].start and rec.words[-1].end < duration - 0.29
        starts = [p.start for p in rec.phones]
        assert starts == sorted(starts) and rec.phones[-1].end <= rec.words[-1].end + 1e-6


def test_lexicon_from_training_speakers(corpus):
    """Every word the training speakers said has an entry, and the lexicon covers the whole
    grammar even when the (tiny) training set does not contain every word."""
    root, records = corpus
    lines = (root / "index" / "lexicon_espeak.txt").read_text().splitlines()
    assert lines == sorted(set(lines)) and lines
    assert {line.split()[0] for line in lines} == set(grid_vocabulary())
    assert all(len(line.split()) >= 2 and "'" not in line for line in lines)
    lexicon = set(lines)
    for rec in records["train"]:
        for word in rec.words:
            assert any(line.split()[0] == word.symbol for line in lexicon)
    assert "a eI" in lines  # the letter, not the article


def test_same_seed_is_identical_for_any_num_jobs(corpus, tmp_path):
    root, _ = corpus
    _generate(tmp_path, num_jobs=1)
    assert _files(tmp_path) == _files(root)  # wav, mp4 and timing files, byte for byte
    assert _index(tmp_path) == _index(root)


def test_rerun_skips_and_resumes_identically(corpus, tmp_path):
    root, records = corpus
    stamps = {p: p.stat().st_mtime_ns for p in (root / "corpus").rglob("*") if p.is_file()}
    assert _generate(root, num_jobs=2) == records
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing rewritten

    # An interrupted run: one utterance lost its timing file (written last) and video.
    victim = records["dev"][3]
    before = _files(root)
    Path(victim.video_path).unlink()
    Path(victim.audio_path).with_suffix(".json").unlink()
    assert _generate(root, num_jobs=1) == records
    assert _files(root) == before


def test_worker_failure_stops_the_run(tmp_path):
    from dataclasses import replace

    from avsr.corpora.synthetic.corpus import _run_jobs, _SpeakerJob, speaker_sentences
    from avsr.corpora.synthetic.speakers import make_speakers

    speakers = make_speakers(2, SEED)
    jobs = [
        _SpeakerJob(spk, tuple(map(tuple, speaker_sentences(spk.speaker_id, 2, SEED))), SEED, str(tmp_path), load_preset("tiny"), "x")
        for spk in speakers
    ]
    jobs[1] = replace(jobs[1], render_module="avsr.video.no_such_renderer")
    with pytest.raises(ModuleNotFoundError, match="no_such_renderer"):
        _run_jobs(jobs, num_jobs=2)


def test_cli_help_and_bad_config(tmp_path):
    script = str(REPO / "local" / "make_corpus.py")
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, check=True).stdout
    assert "--preset" in out and "--nj" in out and "--index-dir" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("train_speakers: 2\nutts_per_spekaer: 3\n")
    proc = subprocess.run([sys.executable, script, "--config", str(bad), "--corpus-dir", str(tmp_path / "c")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {bad}: unknown corpus config keys ['utts_per_spekaer']")
