"""tools/stage_lib.sh and tools/parse_options.sh on a three-stage toy recipe (no Python steps, so
each run takes milliseconds): markers keyed on input *content*, a re-run stage invalidating every
later stage (also in another exp dir sharing the data dir), option changes refused, bad stage
numbers and unknown options rejected."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"

RECIPE = """#!/usr/bin/env bash
set -euo pipefail
stage=0
stop_stage=100
data=data
exp=exp
seed=1
nj=1
help_message="toy recipe"
. {tools}/parse_options.sh
. {tools}/stage_lib.sh
mkdir -p "$data" "$exp"
marker_dir=$data/.stages
run_stage 0 "make data" "seed=$seed $(inputs_key conf.txt)" bash -c "echo 0 >> $data/ran; cp conf.txt $data/made.txt"
run_stage 1 "use data" "seed=$seed $(inputs_key "$data/made.txt" lexicon)" bash -c "echo 1 >> $data/ran"
marker_dir=$exp/.stages
run_stage 2 "train" "seed=$seed" bash -c "echo 2 >> $exp/ran"
"""


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    (tmp_path / "run.sh").write_text(RECIPE.format(tools=TOOLS))
    (tmp_path / "conf.txt").write_text("a: 1\n")
    (tmp_path / "lexicon").mkdir()
    (tmp_path / "lexicon" / "lexicon.txt").write_text("ab p q\n")
    return tmp_path


def run(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "run.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=60)


def ran(recipe: Path, exp: str = "exp") -> list[str]:
    """Stages that ran since the last call (the log files are consumed)."""
    out = []
    for log in (recipe / "data" / "ran", recipe / exp / "ran"):
        if log.is_file():
            out += log.read_text().split()
            log.unlink()
    return sorted(out)


def test_markers_follow_input_content_and_invalidate_later_stages(recipe: Path) -> None:
    assert run(recipe).returncode == 0 and ran(recipe) == ["0", "1", "2"]
    again = run(recipe)
    assert again.returncode == 0 and ran(recipe) == [] and again.stderr.count("already done, skipping") == 3
    # same name, other content: the stage reading it and every later one re-run, earlier ones not
    (recipe / "lexicon" / "lexicon.txt").write_text("ab p q\nba q p\n")
    proc = run(recipe)
    assert proc.returncode == 0 and ran(recipe) == ["1", "2"] and "its inputs changed" in proc.stderr
    # a config edit re-runs stage 0, hence 1 and 2 (their upstream changed) although their own files did not
    (recipe / "conf.txt").write_text("a: 2\n")
    assert run(recipe).returncode == 0 and ran(recipe) == ["0", "1", "2"]
    # touching a file without changing it changes nothing
    (recipe / "conf.txt").write_text("a: 2\n")
    assert run(recipe).returncode == 0 and ran(recipe) == []


def test_rerun_stage_invalidates_later_markers_everywhere(recipe: Path) -> None:
    assert run(recipe).returncode == 0
    assert run(recipe, "--exp", "exp2").returncode == 0  # a second exp dir on the same data dir
    ran(recipe), ran(recipe, "exp2")
    (recipe / "data" / ".stages" / "stage0.done").unlink()  # force stage 0 to run again, alone
    proc = run(recipe, "--stage", "0", "--stop-stage", "0")
    assert proc.returncode == 0 and ran(recipe) == ["0"]
    assert not (recipe / "data" / ".stages" / "stage1.done").exists()  # later markers are gone
    assert not (recipe / "exp" / ".stages" / "stage2.done").exists()
    assert "stage 2 marker removed" in proc.stderr
    assert run(recipe, "--stage", "2").returncode == 0 and ran(recipe) == ["2"]  # re-runs although selected alone
    # exp2's marker is still there, but its upstream (stage 0 and 1 markers) changed: it re-runs
    assert run(recipe, "--exp", "exp2").returncode == 0 and ran(recipe, "exp2") == ["1", "2"]


def test_changed_option_is_refused(recipe: Path) -> None:
    assert run(recipe).returncode == 0
    proc = run(recipe, "--seed", "2")
    assert proc.returncode == 1 and "stage 0 was run with 'seed=1', now 'seed=2'" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--stage", "6x"], "--stage '6x': expected a non-negative integer"),
    (["--stop-stage", "1.5"], "--stop-stage '1.5': expected a non-negative integer"),
    (["--stage="], "--stage '': expected a non-negative integer"),
    (["--stagee", "1"], "unknown option --stagee"),
    (["--PATH", "/x"], "unknown option --PATH"),
    (["--help-message", "x"], "unknown option --help-message"),
    (["--seed"], "option --seed needs a value"),
    (["stray"], "unexpected argument 'stray'"),
])
def test_bad_options_are_errors(recipe: Path, args: list[str], message: str) -> None:
    proc = run(recipe, *args)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert not (recipe / "data" / "ran").exists()  # nothing ran


def test_old_marker_format_reruns(recipe: Path) -> None:
    (recipe / "data" / ".stages").mkdir(parents=True)
    (recipe / "data" / ".stages" / "stage0.done").write_text("seed=1 123 45\n")  # before content hashing
    proc = run(recipe)
    assert proc.returncode == 0 and "marker from before content hashing" in proc.stderr and ran(recipe) == ["0", "1", "2"]
