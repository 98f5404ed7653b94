"""Stage 1: manifests from records, lhotse validation, and bad-input handling."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import CutSet, validate

from avsr.data.checks import check_record
from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.data.manifests import build_manifests, manifest_path, write_manifests
from avsr.data.types import UttRecord
from avsr.data.video_cuts import load_video_frames
from avsr.utils.errors import AvsrInputError
from tests.conftest import make_clip

ROOT = Path(__file__).resolve().parents[1]


def test_manifests_describe_audio_and_video(toy_records, tmp_path):
    recs, sups, cuts, bad = build_manifests(toy_records, grid_vocabulary())
    assert not bad and len(cuts) == 6
    validate(recs)
    validate(sups)
    validate(cuts, read_data=True)
    cut = cuts[0]
    assert cut.has_video and cut.video.fps == 25 and cut.video.num_frames == 30
    assert cut.sampling_rate == 16000 and cut.load_audio().shape == (1, 19200)
    assert cut.supervisions[0].speaker == cut.id.split("_")[0]
    assert [a.symbol for a in cut.supervisions[0].alignment["word"]] == cut.supervisions[0].text.split()
    frames = load_video_frames(cut)
    assert frames.shape == (30, 64, 64) and frames.dtype == np.uint8
    write_manifests(tmp_path / "m", "toy", "train", recs, sups, cuts, bad)
    again = CutSet.from_file(manifest_path(tmp_path / "m", "toy", "cuts", "train"))
    assert again[0].video == cut.video and again[0].supervisions[0].alignment == cut.supervisions[0].alignment


def _bad(tmp_path: Path, kind: str) -> UttRecord:
    d = tmp_path / "bad"
    text = "bin blue at f two now"
    if kind == "empty transcript":
        return make_clip(d, "e", "s9", "")
    if kind == "oov":
        return make_clip(d, "o", "s9", "bin blue at f two tomorrow")
    if kind == "no audio track":
        return make_clip(d, "n", "s9", text, with_audio_track=False)
    if kind == "length mismatch":
        return make_clip(d, "l", "s9", text, duration=1.2, video_frames=25)
    if kind == "wrong sample rate":
        rec = make_clip(d, "r", "s9", text)
        audio, _ = sf.read(rec.audio_path)
        sf.write(rec.audio_path, audio[::2], 8000)
        return rec
    if kind == "corrupt video":
        rec = make_clip(d, "c", "s9", text)
        data = Path(rec.video_path).read_bytes()
        Path(rec.video_path).write_bytes(data[: len(data) // 5])
        return rec
    if kind == "missing audio":
        rec = make_clip(d, "m", "s9", text)
        Path(rec.audio_path).unlink()
        return rec
    raise ValueError(kind)


BAD_CASES = {
    "empty transcript": "empty transcript",
    "oov": "'tomorrow'",
    "no audio track": "no audio track",
    "length mismatch": "video has 25 frames, audio 1.200 s needs 30",
    "wrong sample rate": "wrong sample rate: 8000 Hz",
    "corrupt video": "corrupt video",
    "missing audio": "audio file not found",
}


@pytest.mark.parametrize("kind", sorted(BAD_CASES))
def test_bad_clip_gives_one_line_error_naming_the_file(tmp_path, kind):
    rec = _bad(tmp_path, kind)
    with pytest.raises(AvsrInputError) as err:
        check_record(rec, grid_vocabulary())
    message = str(err.value)
    assert BAD_CASES[kind] in message and "\n" not in message
    assert err.value.path in (rec.audio_path, rec.video_path)


@pytest.mark.parametrize("kind", ["corrupt video", "length mismatch"])
def test_single_clip_cli_exits_nonzero_with_one_line(tmp_path, kind):
    rec = _bad(tmp_path, kind)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "steps/validate_clip.py"), "--audio", rec.audio_path, "--video", rec.video_path, "--text", rec.text],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {rec.video_path}: ")


def test_corpus_run_skips_bad_clips_and_reports_them(toy_records, tmp_path):
    bad_recs = [_bad(tmp_path, k) for k in ("corrupt video", "oov", "length mismatch")]
    recs, sups, cuts, bad = build_manifests(toy_records + bad_recs, grid_vocabulary(), num_jobs=2)
    assert len(cuts) == len(toy_records)
    assert sorted(b.utt_id for b in bad) == sorted(r.utt_id for r in bad_recs)
    write_manifests(tmp_path / "m", "toy", "dev", recs, sups, cuts, bad)
    report = (tmp_path / "m" / "toy_bad_cuts_dev.txt").read_text().splitlines()
    assert len(report) == 3 and all(len(line.split("\t")) == 3 for line in report)
    # no temp files left behind
    assert not [p for p in (tmp_path / "m").iterdir() if ".tmp-" in p.name]
