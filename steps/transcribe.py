#!/usr/bin/env python3
"""Transcribe media files (mp4/mkv/avi/mpg/wav ...) with a trained system; also installed as the
``avsr-transcribe`` console script. See ``--help`` (avsr.deploy.cli) and docs/deploy.md."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.deploy.cli import transcribe_main  # noqa: E402

if __name__ == "__main__":
    transcribe_main()
