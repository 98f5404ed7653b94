"""Shared helpers for the E2E tests: a tiny model config and the synthetic AV corpus."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

TINY_CONFIG = {
    "model": "ctc_attention",
    "tokens": {"bpe_vocab_size": 64},
    "frontend": {"fusion": "bilinear", "audio_channels": 8, "audio_dim": 32, "video_channels": 8, "video_dim": 32,
                 "output_dim": 32, "bilinear_rank": 16, "modality_dropout": 0.0, "dropout": 0.0},
    "encoder": {"d_model": 32, "num_heads": 2, "ffn_dim": 64, "num_layers": 1, "kernel_size": 7, "dropout": 0.0},
    "decoder": {"num_layers": 1, "num_heads": 2, "ffn_dim": 64, "dropout": 0.0},
    "loss": {"ctc_weight": 0.3, "label_smoothing": 0.1},
    "train": {"epochs": 3, "lr": 3.0e-3, "warmup_steps": 10, "sampler": "fixed", "batch_size": 8, "seed": 7,
              "spec_augment": False, "num_threads": 1},
}

TINY_TRANSDUCER = dict(TINY_CONFIG, model="transducer",
                       transducer={"predictor_dim": 32, "context_size": 2, "joiner_dim": 32, "ctc_weight": 0.2})
TINY_TRANSDUCER.pop("decoder")
TINY_TRANSDUCER.pop("loss")


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def env_one_thread() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return env


def train_cmd(conf: Path, data: Path, exp: Path, *extra: str) -> list[str]:
    return [PYTHON, str(REPO / "steps" / "train_e2e.py"), "--conf", str(conf), "--data", str(data),
            "--exp-dir", str(exp), "--device", "cpu", *extra]


def run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=env_one_thread(), timeout=timeout, cwd=REPO)
