"""egs/grid/run.sh stages 0-3 on a copy of the two real GRID clips."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
from lhotse import CutSet, validate

ROOT = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_grid_recipe_on_real_clips(grid_sample, tmp_path):
    before = _digest(grid_sample)
    data, exp = tmp_path / "data", tmp_path / "exp"
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", str(ROOT / "egs/grid/run.sh"), "--grid-root", str(grid_sample), "--data", str(data), "--exp", str(exp)],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _digest(grid_sample) == before  # the corpus is only read

    test = CutSet.from_file(data / "fbank" / "grid_cuts_test.jsonl.gz")
    train = CutSet.from_file(data / "fbank" / "grid_cuts_train.jsonl.gz")
    validate(CutSet.from_file(data / "manifests" / "grid_cuts_test.jsonl.gz"), read_data=True)
    assert [c.supervisions[0].text for c in test] == ["bin blue at f two now"]  # s1 is a test speaker
    assert [c.supervisions[0].text for c in train] == ["set white with p two soon"]
    cut = test[0]
    assert cut.load_features().shape[1] == 80 and cut.load_mfcc().shape[1] == 24
    assert cut.load_mouth_roi().shape[1:] == (44, 44)
    assert abs(cut.load_mouth_roi().shape[0] * 0.04 - cut.duration) <= 0.04

    stats = json.loads((data / "video" / "roi_stats.json").read_text())
    per_clip = {c["cut_id"]: c["face_fraction"] for c in stats["clips"]}
    assert set(per_clip) == {"s1_bbaf2n", "id2_swwp2s"}
    assert all(f >= 0.95 for f in per_clip.values()), per_clip
    sheet = data / "video" / "contact_sheet_test.png"
    assert sheet.is_file() and sheet.stat().st_size > 1000

    noisy = CutSet.from_file(data / "fbank" / "grid_cuts_test_babble_snr0.jsonl.gz")[0]
    np.testing.assert_array_equal(noisy.load_mouth_roi(), cut.load_mouth_roi())  # video stays clean
    assert not np.allclose(noisy.load_features(), cut.load_features())


def test_grid_recipe_needs_the_corpus_path(tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "egs/grid/run.sh"), "--data", str(tmp_path / "d")], capture_output=True, text=True)
    assert proc.returncode == 1 and "--grid-root is required" in proc.stderr
