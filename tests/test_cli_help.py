"""Every step script answers --help (exit 0, a usage line) without doing any work."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(
    p for pattern in ("steps/*.py", "local/*.py", "egs/*/local/*.py") for p in ROOT.glob(pattern) if not p.name.startswith("_")
)


def test_there_are_step_scripts():
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_help(script: Path):
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.lower().startswith("usage:")
