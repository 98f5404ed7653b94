"""The sync data-QA stage (steps/sync_qa.py) and steps/check_sync.py on a toy corpus whose
clips have known offsets: flags the shifted clips, keep | drop | shift on every set (noisy
copies follow their clean clip), idempotent re-runs, one-line errors."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet

from avsr.sync.pipeline import SyncSettings, run_sync_qa
from avsr.sync.qa import QaPolicy, file_sha256
from avsr.sync.shift import load_video_array, video_shift_of
from avsr.utils.errors import AvsrInputError

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import make_sync_cuts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf" / "sync.yaml"
BAD = {"train_002": 6, "test_001": -5}  # clips recorded out of sync (frames the video lags)


@pytest.fixture()
def corpus(tmp_path):
    fbank = tmp_path / "fbank"
    make_sync_cuts(fbank, "toy", {"train": 8, "dev": 3, "test": 4}, offsets=BAD, noisy_copy_of="test")
    return fbank, tmp_path / "video"


def _sets(fbank: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(fbank.glob("toy_cuts_*.jsonl.gz"))}


def test_qa_flags_shifts_and_is_idempotent(corpus):
    fbank, video = corpus
    settings = SyncSettings.load(CONF)
    before = _sets(fbank)
    shift = QaPolicy("shift", tolerance=1, min_confidence=0.05)
    report = run_sync_qa(fbank, "toy", video, settings, "xcorr", shift, plot_path=video / "sync_report.png")
    assert report["num_clips"] == 15 and (video / "sync_report.png").stat().st_size > 10_000
    rows = {r["cut_id"]: r for r in report["clips"]}
    assert set(rows["test_001"]) >= {"cut_id", "offset_frames", "offset_ms", "confidence"}
    flagged = {i for i, r in rows.items() if r["action"] == "shifted"}
    assert flagged == set(BAD)
    assert report["num_corrected"] == 2 and report["sets"]["test_noisy"]["shifted"] == 1
    for name in ("test", "test_noisy"):  # the noisy copy follows its clean clip
        cut = next(c for c in CutSet.from_file(fbank / f"toy_cuts_{name}.jsonl.gz") if c.id.startswith("test_001"))
        assert abs(video_shift_of(cut) - 5) <= 1
    after = _sets(fbank)
    assert after["toy_cuts_dev.jsonl.gz"] == before["toy_cuts_dev.jsonl.gz"]  # nothing flagged there: untouched
    run_sync_qa(fbank, "toy", video, settings, "xcorr", shift)
    assert _sets(fbank) == after  # re-run: same outputs (estimated on the saved originals, not the corrected sets)
    # the corrected clips are now in sync: a check on the corrected manifests finds ~0
    corrected = CutSet.from_file(fbank / "toy_cuts_test.jsonl.gz")
    from avsr.sync.pipeline import estimate_cuts

    est = {e.cut_id: e.offset_frames for e in estimate_cuts(corrected, "xcorr", settings)}
    assert abs(est["test_001"]) <= 1

    drop = run_sync_qa(fbank, "toy", video, settings, "xcorr", QaPolicy("drop", 1, 0.05))
    assert drop["num_dropped"] == 2 and drop["sets"]["test_noisy"]["cuts_out"] == 3
    assert "test_001_noisy" not in {c.id for c in CutSet.from_file(fbank / "toy_cuts_test_noisy.jsonl.gz")}
    run_sync_qa(fbank, "toy", video, settings, "xcorr", QaPolicy("keep", 1, 0.05))
    assert _sets(fbank) == before  # keep restores what stage 3 wrote, byte for byte


def test_qa_takes_a_rewritten_stage3_set_as_new_original(corpus):
    fbank, video = corpus
    settings = SyncSettings.load(CONF)
    run_sync_qa(fbank, "toy", video, settings, "xcorr", QaPolicy("shift", 1, 0.05))
    # stage 3 re-run: the set is rewritten (here: the same cuts, one line dropped) -> new original
    cuts = CutSet.from_file(video / "sync_orig" / "toy_cuts_dev.jsonl.gz")
    CutSet.from_cuts(list(cuts)[:2]).to_file(fbank / "toy_cuts_dev.jsonl.gz")
    rep = run_sync_qa(fbank, "toy", video, settings, "xcorr", QaPolicy("shift", 1, 0.05))
    assert rep["sets"]["dev"]["cuts_in"] == 2
    assert file_sha256(video / "sync_orig" / "toy_cuts_dev.jsonl.gz") == file_sha256(fbank / "toy_cuts_dev.jsonl.gz")


def run_step(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a steps/ script in this process (its main under run_cli, like ``python steps/x.py``):
    the CLIs' own logic without paying ~4 s of torch/lhotse imports per call (test_cli_help
    runs each script as a real subprocess)."""
    import contextlib
    import io
    import runpy

    out, err, code = io.StringIO(), io.StringIO(), 0
    argv = sys.argv
    sys.argv = [str(ROOT / "steps" / script), *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(str(ROOT / "steps" / script), run_name="__main__")
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_cli_train_sync_qa_and_check_sync(corpus, tmp_path):
    """The three CLIs end to end: train a sync model, run the QA stage with it, check a known offset."""
    fbank, video = corpus
    model_dir = tmp_path / "sync_model"
    proc = run_step("train_sync.py", "--cuts", str(fbank / "toy_cuts_train.jsonl.gz"), "--steps", "12", "--out", str(model_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((model_dir / "model.json").read_text())["train_config"]["steps"] == 12
    proc = run_step("sync_qa.py", "--feature-dir", str(fbank), "--video-dir", str(video), "--corpus", "toy",
                    "--model", str(model_dir), "--policy", "shift", "--min-confidence", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((video / "sync_report.json").read_text())
    assert report["method"] == "learned" and not report["model"]["trained_here"]
    assert {r["cut_id"] for r in report["clips"] if r["action"] == "shifted"} >= {"test_001"}
    assert (video / "sync_report.png").is_file() and "sync QA: 15 clips" in proc.stdout

    # check_sync with a known injected offset, the trained model, and shifted/corrected cuts written out
    out, shifted = tmp_path / "check.json", tmp_path / "shifted.jsonl.gz"
    proc = run_step("check_sync.py", "--cuts", str(fbank / "toy_cuts_dev.jsonl.gz"), "--out", str(out), "--inject-offset", "4",
                    "--method", "learned", "--model", str(model_dir), "--write-cuts", str(shifted), "--correct")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads(out.read_text())
    assert rep["within_tolerance"] == 1.0 and "within ±1: 100.0%" in proc.stdout
    assert all(abs(r["offset_frames"] - 4) <= 1 for r in rep["clips"])
    for cut in CutSet.from_file(shifted):  # injected +4, corrected by minus the estimate: back to ~0
        assert abs(video_shift_of(cut)) <= 1
        assert load_video_array(cut).shape == cut.load_custom("mouth_roi").shape

    bad = subprocess.run([sys.executable, str(ROOT / "steps/check_sync.py"), "--cuts", str(fbank / "toy_cuts_dev.jsonl.gz"),
                          "--out", str(tmp_path / "x.json")], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error: ") and "--model" in bad.stderr
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(AvsrInputError, match="run stage 3"):
        run_sync_qa(tmp_path / "nothing", "toy", video, SyncSettings.load(CONF), "xcorr", QaPolicy())


def test_audio_only_corpus_is_skipped(tmp_path):
    fbank = tmp_path / "fbank"
    make_sync_cuts(fbank, "toy", {"train": 2, "test": 2})
    for p in fbank.glob("toy_cuts_*.jsonl.gz"):  # strip the video arrays: an audio-only corpus
        lines = [json.loads(x) for x in gzip.open(p, "rt")]
        for d in lines:
            for k in ("mouth_roi", "roi_dct"):
                d["custom"].pop(k)
        with gzip.open(p, "wt") as f:
            f.write("".join(json.dumps(d) + "\n" for d in lines))
    rep = run_sync_qa(fbank, "toy", tmp_path / "video", SyncSettings.load(CONF), "learned", QaPolicy("shift"))
    assert rep["num_clips"] == 0 and "audio-only" in rep["skipped"]
    assert np.all([not c.has_custom("video_shift") for c in CutSet.from_file(fbank / "toy_cuts_test.jsonl.gz")])


def test_qa_reuses_its_model_on_rerun(corpus):
    fbank, video = corpus
    settings = SyncSettings.load(CONF)
    first = run_sync_qa(fbank, "toy", video, settings, "learned", QaPolicy("keep"), train_steps=3)
    second = run_sync_qa(fbank, "toy", video, settings, "learned", QaPolicy("shift", 1, 0.0), train_steps=3)
    assert first["model"]["trained_here"] and second["model"]["reused"]
    assert [r["offset_frames"] for r in first["clips"]] == [r["offset_frames"] for r in second["clips"]]
    third = run_sync_qa(fbank, "toy", video, settings, "learned", QaPolicy("keep"), train_steps=4)
    assert third["model"]["trained_here"]  # other settings: a new model
