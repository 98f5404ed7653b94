"""GRID recipe data preparation on copies of the two real clips, and every kind of bad input."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avsr.corpora.grid.prepare import (
    find_grid_clips,
    prepare_clip,
    prepare_grid,
    read_align,
    select_clip,
)
from avsr.data.records import read_records
from avsr.utils.errors import AvsrInputError
from avsr.video.io import read_audio_track, read_video_frames, write_av_mp4
from tests.conftest import GRID_SAMPLE, copy_grid_sample

REPO = Path(__file__).resolve().parents[1]
PREPARE_GRID = REPO / "egs" / "grid" / "local" / "prepare_grid.py"

def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """sha1 and mtime of every file under root."""
    return {
        str(p.relative_to(root)): (hashlib.sha1(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A private copy of the sample corpus (official layout: <spk>/<utt>.mpg + alignments/)."""
    return copy_grid_sample(tmp_path / "grid")


def _clip(corpus: Path, utt_id: str):
    return select_clip(find_grid_clips(corpus), utt_id, corpus)


def _one_line_error(excinfo, path: Path, *fragments: str) -> str:
    err = excinfo.value
    assert Path(err.path) == path, f"error names {err.path}, expected {path}"
    message = str(err)
    assert "\n" not in message and message.startswith(str(path))
    for fragment in fragments:
        assert fragment in err.problem, f"{fragment!r} not in {err.problem!r}"
    return message


def test_corpus_is_prepared_without_touching_originals(corpus, tmp_path):
    before = _snapshot(corpus)
    index, wavs = tmp_path / "index", tmp_path / "wav"
    splits = prepare_grid(corpus, wavs, index, dev_speakers=["s3"], test_speakers=["s1"])
    assert _snapshot(corpus) == before  # same files, same bytes, same mtimes: nothing written there

    assert sorted(p.name for p in index.iterdir()) == ["bad_cuts.txt", "dev.jsonl", "split.json", "split_utts.tsv", "test.jsonl", "train.jsonl"]
    assert (index / "split_utts.tsv").read_text() == "id2_swwp2s\tid2\ttrain\ns1_bbaf2n\ts1\ttest\n"
    assert (index / "dev.jsonl").read_text() == "" and (index / "bad_cuts.txt").read_text() == ""
    (test_rec,), (train_rec,) = read_records(index / "test.jsonl"), read_records(index / "train.jsonl")
    assert [r.utt_id for r in splits["test"]] == ["s1_bbaf2n"] and train_rec.utt_id == "id2_swwp2s"
    assert test_rec.text == "bin blue at f two now" and train_rec.text == "set white with p two soon"
    assert test_rec.video_path == str((corpus / "s1" / "bbaf2n.mpg").resolve())
    # Word timings from the .align (1/25000 s): "bin" 23750-29500, "now" 47250-53000.
    assert [w.symbol for w in test_rec.words] == test_rec.text.split()
    assert test_rec.words[0].start == pytest.approx(0.95) and test_rec.words[0].end == pytest.approx(1.18)
    assert test_rec.words[-1].start == pytest.approx(1.89) and test_rec.words[-1].end == pytest.approx(2.12)
    for rec in (test_rec, train_rec):
        info = sf.info(rec.audio_path)
        assert Path(rec.audio_path).is_relative_to(wavs.resolve())
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.duration == pytest.approx(2.978, abs=0.01)
        audio, _ = sf.read(rec.audio_path)
        assert np.abs(audio).max() > 0.05  # real speech, not silence


def test_rerun_is_idempotent(corpus, tmp_path):
    index, wavs = tmp_path / "index", tmp_path / "wav"
    prepare_grid(corpus, wavs, index)
    stamps = {p: p.stat().st_mtime_ns for p in wavs.rglob("*.wav")}
    texts = {p.name: p.read_text() for p in index.iterdir()}
    prepare_grid(corpus, wavs, index, num_jobs=2)
    assert {p: p.stat().st_mtime_ns for p in wavs.rglob("*.wav")} == stamps  # wavs not rewritten
    assert {p.name: p.read_text() for p in index.iterdir()} == texts
    # Default protocol: s1 is an unseen test speaker.
    assert [r.utt_id for r in read_records(index / "test.jsonl")] == ["s1_bbaf2n"]


def test_missing_align_falls_back_to_the_name(corpus, tmp_path):
    (corpus / "alignments" / "id2" / "swwp2s.align").unlink()
    rec = prepare_clip(_clip(corpus, "id2/swwp2s"), tmp_path / "wav")
    assert rec.text == "set white with p two soon" and rec.words == []


def test_distribution_layout_with_per_speaker_align_dir(tmp_path):
    corpus = tmp_path / "grid"
    (corpus / "s1" / "video" / "mpg_6000").mkdir(parents=True)
    (corpus / "s1" / "align").mkdir()
    shutil.copyfile(GRID_SAMPLE / "s1" / "bbaf2n.mpg", corpus / "s1" / "video" / "mpg_6000" / "bbaf2n.mpg")
    shutil.copyfile(GRID_SAMPLE / "alignments" / "s1" / "bbaf2n.align", corpus / "s1" / "align" / "bbaf2n.align")
    (clip,) = find_grid_clips(corpus)
    assert clip.align_path == corpus / "s1" / "align" / "bbaf2n.align"
    assert prepare_clip(clip, tmp_path / "wav").words[2].symbol == "at"


def test_read_align_drops_silence_and_short_pauses(tmp_path):
    align = tmp_path / "x.align"
    align.write_text("0 1000 sil\n1000 2500 bin\n2500 3000 sp\n3000 5000 blue\n")
    assert [(s.symbol, s.start, s.end) for s in read_align(align)] == [("bin", 0.04, 0.1), ("blue", 0.12, 0.2)]


# ---- bad input: each gives one line naming the offending file -------------------------------

def test_truncated_video(corpus, tmp_path):
    video = corpus / "s1" / "bbaf2n.mpg"
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 5])
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(_clip(corpus, "s1/bbaf2n"), tmp_path / "wav")
    _one_line_error(excinfo, video, "truncated or corrupt video", ".align covers 2.98 s")
    assert not (tmp_path / "wav" / "s1" / "bbaf2n.wav").exists()


def test_random_bytes_video(corpus, tmp_path):
    video = corpus / "s1" / "bbaf2n.mpg"
    video.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(_clip(corpus, "s1/bbaf2n"), tmp_path / "wav")
    message = _one_line_error(excinfo, video)
    assert "cannot open video" in message or "corrupt video" in message


def test_video_without_audio_track(corpus, tmp_path):
    video = corpus / "s1" / "bbaf2n.mpg"
    write_av_mp4(video, read_video_frames(video), fps=25)  # same frames, no audio stream
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(_clip(corpus, "s1/bbaf2n"), tmp_path / "wav")
    _one_line_error(excinfo, video, "no audio track")


def test_audio_video_length_mismatch(corpus, tmp_path):
    video = corpus / "s1" / "bbaf2n.mpg"
    frames, audio = read_video_frames(video), read_audio_track(video)
    write_av_mp4(video, frames, fps=25, audio=audio[: 2 * 16000])  # 75 frames (3 s), 2 s of audio
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(_clip(corpus, "s1/bbaf2n"), tmp_path / "wav")
    _one_line_error(excinfo, video, "video has 75 frames, audio 2.0", "(±1)")


def test_empty_transcript(corpus, tmp_path):
    align = corpus / "alignments" / "s1" / "bbaf2n.align"
    align.write_text("0 74500 sil\n")
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(_clip(corpus, "s1/bbaf2n"), tmp_path / "wav")
    _one_line_error(excinfo, align, "empty transcript")


def test_word_outside_the_grammar(corpus, tmp_path):
    align = corpus / "alignments" / "s1" / "bbaf2n.align"
    align.write_text(align.read_text().replace("blue", "purple"))
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(_clip(corpus, "s1/bbaf2n"), tmp_path / "wav")
    _one_line_error(excinfo, align, "outside the GRID grammar: purple")


def test_unreadable_align(corpus, tmp_path):
    align = corpus / "alignments" / "s1" / "bbaf2n.align"
    align.write_bytes(b"0 23750 sil\n\xff\xfe garbage\n")
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(_clip(corpus, "s1/bbaf2n"), tmp_path / "wav")
    _one_line_error(excinfo, align, "unreadable .align")
    align.write_text("0 23750 sil\n23750 bin\n")
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(_clip(corpus, "s1/bbaf2n"), tmp_path / "wav")
    _one_line_error(excinfo, align, "line 2: expected 'start end word'")


def test_corpus_mode_lists_bad_clip_and_keeps_good_ones(corpus, tmp_path):
    video = corpus / "s1" / "bbaf2n.mpg"
    video.write_bytes(video.read_bytes()[:90_000])
    index = tmp_path / "index"
    splits = prepare_grid(corpus, tmp_path / "wav", index)
    lines = (index / "bad_cuts.txt").read_text().splitlines()
    assert len(lines) == 1
    utt_id, path, reason = lines[0].split("\t")
    assert (utt_id, Path(path)) == ("s1_bbaf2n", video) and "truncated" in reason
    assert [r.utt_id for r in splits["train"]] == ["id2_swwp2s"] and splits["test"] == []
    assert (index / "test.jsonl").read_text() == ""
    assert (tmp_path / "wav" / "id2" / "swwp2s.wav").is_file()


def test_cli_single_clip_error_and_success(corpus, tmp_path):
    align = corpus / "alignments" / "s1" / "bbaf2n.align"
    align.write_text("0 74500 sil\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    base = [sys.executable, str(PREPARE_GRID), "--corpus-dir", str(corpus), "--out-audio-dir", str(tmp_path / "wav")]
    bad = subprocess.run(base + ["--utt", "s1/bbaf2n"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [f"error: {align}: empty transcript (only silence)"]
    good = subprocess.run(base + ["--utt", "id2_swwp2s"], capture_output=True, text=True, env=env, timeout=60)
    assert good.returncode == 0, good.stderr
    assert '"text": "set white with p two soon"' in good.stdout
    inside = subprocess.run(
        [sys.executable, str(PREPARE_GRID), "--corpus-dir", str(corpus), "--out-audio-dir", str(corpus / "wav"),
         "--index-dir", str(tmp_path / "index")], capture_output=True, text=True, env=env, timeout=60)
    assert inside.returncode == 1 and "never write into the corpus" in inside.stderr
    assert not (corpus / "wav").exists()
