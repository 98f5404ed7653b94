"""Shared fixtures: small hand-made AV clips (no TTS needed) and copies of the real GRID sample."""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avsr.corpora.grid.grammar import sample_sentence
from avsr.data.types import Segment, UttRecord
from avsr.video.io import write_av_mp4

def _find_grid_sample() -> Path:
    """The two real GRID clips: $AVSR_GRID_SAMPLE, else shared/ next to the repo (as CI lays it out)."""
    candidates = [os.environ.get("AVSR_GRID_SAMPLE", ""), Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "grid_sample",
                  "/work/shared/fixtures/grid_sample"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path(candidates[1])


GRID_SAMPLE = _find_grid_sample()


def copy_grid_sample(dst: Path) -> Path:
    """Copy the sample corpus file by file, without its (read-only) permissions; never touch the originals."""
    if not GRID_SAMPLE.is_dir():
        pytest.fail(f"GRID sample fixtures not found at {GRID_SAMPLE} (set AVSR_GRID_SAMPLE)")
    for src in GRID_SAMPLE.rglob("*"):
        if src.is_file() and src.suffix in (".mpg", ".align"):
            target = dst / src.relative_to(GRID_SAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    return dst


def make_clip(
    out_dir: Path,
    utt_id: str,
    speaker: str,
    text: str,
    duration: float = 1.2,
    video_frames: int | None = None,
    sampling_rate: int = 16000,
    with_audio_track: bool = True,
    seed: int = 0,
) -> UttRecord:
    """A wav of tones + noise and a matching 25 fps mp4 with a moving bright blob."""
    rng = np.random.default_rng(seed)
    n = int(duration * sampling_rate)
    t = np.arange(n) / sampling_rate
    audio = (0.2 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.01 * rng.standard_normal(n)).astype(np.float32)
    wav = out_dir / speaker / f"{utt_id}.wav"
    wav.parent.mkdir(parents=True, exist_ok=True)
    sf.write(wav, audio, sampling_rate, subtype="PCM_16")
    num_frames = video_frames if video_frames is not None else round(duration * 25)
    frames = np.full((num_frames, 64, 64), 90, np.uint8)
    for i in range(num_frames):
        frames[i, 30:40, 20 + i % 20 : 30 + i % 20] = 220
    mp4 = out_dir / speaker / f"{utt_id}.mp4"
    write_av_mp4(mp4, frames, 25, audio if with_audio_track and sampling_rate == 16000 else None, 16000)
    words = text.split()
    step = duration / (len(words) + 1) if words else duration
    segs = [Segment(w, 0.5 * step + i * step, 0.5 * step + (i + 1) * step) for i, w in enumerate(words)]
    return UttRecord(utt_id, speaker, str(wav), str(mp4), text, words=segs)


@pytest.fixture
def toy_records(tmp_path: Path) -> list[UttRecord]:
    """Two speakers × three GRID sentences."""
    rng = random.Random(0)
    records = []
    for s, spk in enumerate(["s01", "s02"]):
        for u in range(3):
            text = " ".join(sample_sentence(rng))
            records.append(make_clip(tmp_path / "corpus", f"{spk}_u{u}", spk, text, seed=3 * s + u))
    return records


@pytest.fixture
def grid_sample(tmp_path: Path) -> Path:
    """A private copy of the two real GRID clips (never touch the originals)."""
    return copy_grid_sample(tmp_path / "grid")


@pytest.fixture
def torch_one_thread():
    """Small torch ops: one thread is fastest and avoids oversubscribing a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


REPO_ROOT = Path(__file__).resolve().parents[1]


def run_recipe(*args: str, cwd: Path = REPO_ROOT) -> "subprocess.CompletedProcess":
    """bash run.sh ARGS with the repo's venv first on PATH; output captured."""
    import subprocess

    env = dict(os.environ, PATH=f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    return subprocess.run(["bash", str(REPO_ROOT / "run.sh"), *args], cwd=cwd, env=env, capture_output=True, text=True)


CLONE_LEFT_OUT = {".git", ".venv", "data", "exp", "__pycache__", ".pytest_cache", "RESULTS.md"}


def copy_working_tree(dst: Path) -> Path:
    """The working tree as it is (not git HEAD: uncommitted work counts) without run outputs
    (data/, exp/, .venv/, caches); the venv is shared through a symlink (tools/install.sh finds
    its stamp and does nothing)."""
    import shutil

    def ignore(directory: str, names: list) -> set:
        top = Path(directory).resolve() == REPO_ROOT.resolve()
        return {n for n in names if n == "__pycache__" or n.endswith(".egg-info") or (top and n in CLONE_LEFT_OUT)
                or (Path(directory).parent.name == "egs" and n in ("data", "exp"))}

    shutil.copytree(REPO_ROOT, dst, ignore=ignore, symlinks=True)
    (dst / ".venv").symlink_to((REPO_ROOT / ".venv").resolve())
    return dst


@pytest.fixture(scope="session")
def tiny_clones(tmp_path_factory) -> list:
    """``./run.sh --preset tiny``, every stage, in two copies of the working tree (both copied
    before either runs, so both hold the same code), at the same time, each in its own process
    from empty data and exp dirs: [(clone dir, stderr, seconds)]. Outputs go to <clone>/data and
    <clone>/exp, given as absolute paths so the manifests are readable from any directory; the
    leaderboard is <clone>/exp/RESULTS.md. The suite's one end-to-end run of the recipe.

    Concurrent rather than one after the other: the same CPU work, but this fixture no longer
    holds one xdist worker for two runs' length while the other runs out of tests (and two runs
    sharing the CPUs must still agree byte for byte)."""
    import subprocess
    import tempfile
    import time

    root = tmp_path_factory.mktemp("clones")
    clones = [copy_working_tree(root / name) for name in ("a", "b")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "AVSR_VENV"))}
    started = []
    for clone in clones:
        stderr = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: nothing blocks on a full buffer
        proc = subprocess.Popen(["bash", "run.sh", "--preset", "tiny", "--data", str(clone / "data"), "--exp", str(clone / "exp")],
                                cwd=clone, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        started.append((clone, proc, stderr, time.time()))
    finished = []
    for clone, proc, stderr, t0 in started:  # wait for both before judging either: no run left behind
        returncode = proc.wait()
        seconds = time.time() - t0
        stderr.seek(0)
        finished.append((clone, returncode, stderr.read(), seconds))
        stderr.close()
    for clone, returncode, text, _ in finished:
        assert returncode == 0, f"{clone.name}: " + text[-4000:]
    return [(clone, text, seconds) for clone, _, text, seconds in finished]


@pytest.fixture(scope="session")
def tiny_recipe_data(tiny_clones) -> tuple[Path, Path, float]:
    """The first clone's tiny run: (data dir, exp dir, seconds), for tests that only read stage
    outputs or re-run stages that must be skipped (they never modify it)."""
    clone, _, seconds = tiny_clones[0]
    return clone / "data", clone / "exp", seconds


def run_step_in_process(script, *args: str, cwd: Path) -> str:
    """Run a step CLI's __main__ in this process (no interpreter + torch/lhotse start-up per
    step, to keep tests fast) from ``cwd``; a failing step (SystemExit != 0) fails the test."""
    import contextlib
    import io
    import runpy
    import sys

    old_argv, old_cwd, out = sys.argv, os.getcwd(), io.StringIO()
    try:
        os.chdir(cwd)
        sys.argv = [str(script), *args]
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        assert exc.code in (0, None), f"{Path(script).name} exited with {exc.code}: {out.getvalue()[-2000:]}"
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return out.getvalue()


def _uses_tiny_runs(item) -> bool:
    return "tiny_clones" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items) -> None:
    """The tests of the tiny end-to-end runs first (all in test_recipe.py, so that ``pytest -n N
    --dist loadfile``, test.sh, runs the session fixture ``tiny_clones`` once): they take longest."""
    items.sort(key=lambda item: not _uses_tiny_runs(item))  # stable: file order is kept otherwise
