"""Resume after kill -9: the re-run continues from the last checkpoint and ends with exactly the
weights of an uninterrupted run; plus --epoch/--avg averaging and config-mismatch refusal."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from avsr.train.checkpoint import averaged_model_state, checkpoint_path, latest_epoch, load_checkpoint, saved_epochs
from avsr.corpora.toy.feature_corpus import make_synthetic_cuts
from e2e_helpers import TINY_CONFIG, env_one_thread, run, train_cmd, write_config

EPOCHS = 4


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("syn")
    make_synthetic_cuts(data, {"train": 48, "dev": 8})
    return data


def _conf(tmp: Path) -> Path:
    cfg = dict(TINY_CONFIG, train=dict(TINY_CONFIG["train"], epochs=EPOCHS))
    return write_config(tmp / "conf.yaml", cfg)


def test_kill9_then_resume_matches_uninterrupted(corpus: Path, tmp_path: Path) -> None:
    conf = _conf(tmp_path)
    ref_exp, exp = tmp_path / "ref", tmp_path / "killed"
    done = run(train_cmd(conf, corpus, ref_exp))
    assert done.returncode == 0, done.stderr[-2000:]
    assert saved_epochs(ref_exp) == list(range(1, EPOCHS + 1))

    proc = subprocess.Popen(train_cmd(conf, corpus, exp), env=env_one_thread(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not checkpoint_path(exp, 1).exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)  # kill -9 right after epoch 1 was saved, while epoch 2 trains
    proc.wait()
    killed_at = latest_epoch(exp)
    # the kill must land mid-training, or the rest of the test would not exercise resuming at all
    assert killed_at is not None and 1 <= killed_at < EPOCHS, f"kill landed at epoch {killed_at} of {EPOCHS}"
    # every visible checkpoint is complete (a partial write only exists as a hidden temp file)
    for e in saved_epochs(exp):
        assert load_checkpoint(checkpoint_path(exp, e))["epoch"] == e
    assert all(p.name.startswith(".") for p in exp.iterdir() if ".tmp-" in p.name)

    resumed = run(train_cmd(conf, corpus, exp))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {checkpoint_path(exp, killed_at)} (epoch {killed_at}" in resumed.stderr
    assert not [p for p in exp.iterdir() if ".tmp-" in p.name]  # stale temp files were cleaned up
    a = load_checkpoint(checkpoint_path(ref_exp, EPOCHS))["model"]
    b = load_checkpoint(checkpoint_path(exp, EPOCHS))["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the step log has no duplicate steps from the killed epoch
    rows = (exp / "log" / "train.csv").read_text().splitlines()[1:]
    steps = [int(r.split(",")[1]) for r in rows]
    assert steps == list(range(1, len(steps) + 1))

    # a finished run is a no-op
    again = run(train_cmd(conf, corpus, exp))
    assert again.returncode == 0 and "already trained" in again.stderr


def test_average_and_config_mismatch(corpus: Path, tmp_path: Path) -> None:
    conf = _conf(tmp_path)
    exp = tmp_path / "exp"
    assert run(train_cmd(conf, corpus, exp, "--epochs", "2")).returncode == 0
    s1, s2 = (load_checkpoint(checkpoint_path(exp, e))["model"] for e in (1, 2))
    avg = averaged_model_state(exp, 2, 2)
    for k, v in avg.items():
        if torch.is_floating_point(v):
            assert torch.allclose(v, (s1[k] + s2[k]) / 2, atol=1e-6), k
    assert torch.equal(averaged_model_state(exp, 2, 1)["ctc_head.weight"], s2["ctc_head.weight"])
    # more epochs with the same config continue; a changed model config is refused
    assert run(train_cmd(conf, corpus, exp, "--epochs", "3")).returncode == 0
    assert latest_epoch(exp) == 3
    bad = run(train_cmd(conf, corpus, exp, "--set", "encoder.num_layers=2"))
    assert bad.returncode == 1 and "different config" in bad.stderr
