"""The whole recipe (stages 0-14) on the tiny preset: every system is trained, decoded and lands in
RESULTS.md, and a second run of the training/decoding stages with the same seed reproduces every
number of the leaderboard."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_recipe

SYSTEM_ROWS = ["mono", "tri", "hybrid_audio", "hybrid_video", "hybrid_concat", "hybrid_bilinear", "hybrid_factored",
               "hybrid_shared_factored", "hybrid_posterior_average", "ctc_att_a", "ctc_att_v", "ctc_att_av_concat",
               "ctc_att_av_bilinear", "transducer_a", "transducer_v", "transducer_av_concat", "transducer_av_bilinear"]


@pytest.fixture(scope="module")
def two_runs(tiny_recipe_data):
    """Stages 6-14 twice, into two exp dirs, on the session's tiny data (stages 0-5)."""
    data, exp, _ = tiny_recipe_data
    runs = []
    for name in ("exp_full_a", "exp_full_b"):
        proc = run_recipe("--preset", "tiny", "--stage", "6", "--data", str(data), "--exp", str(exp.parent / name))
        assert proc.returncode == 0, proc.stderr[-4000:]
        runs.append(proc.stderr)
    return exp.parent / "exp_full_a", exp.parent / "exp_full_b", runs[0]


def _numbers(results: Path) -> list[str]:
    """Every table row of RESULTS.md that carries numbers; provenance rows (commands and config
    hashes in backticks, which name the exp dir) are left out."""
    return [line for line in results.read_text().splitlines()
            if line.startswith("|") and re.search(r"\d", line) and "`" not in line]


def test_every_system_reaches_the_leaderboard(two_runs):
    exp_a, _, stderr = two_runs
    results = (exp_a / "RESULTS.md").read_text()
    for system in SYSTEM_ROWS:
        assert system in results, f"{system} missing from RESULTS.md"
    assert re.search(r"\d+\.\d \[\d+\.\d, \d+\.\d\]", results), "no cell with a 95% interval"
    assert "Stage wall times" in stderr and "leaderboard" in stderr
    for png in ("wer_vs_snr.png", "fusion_frame_per.png"):
        assert (exp_a / "plots" / png).stat().st_size > 10_000


def test_same_seed_gives_identical_results(two_runs):
    exp_a, exp_b, _ = two_runs
    rows_a, rows_b = _numbers(exp_a / "RESULTS.md"), _numbers(exp_b / "RESULTS.md")
    assert len(rows_a) > 20
    assert rows_a == rows_b
