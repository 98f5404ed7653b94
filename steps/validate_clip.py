#!/usr/bin/env python3
"""Check one audio-visual clip the way stage 1 does; exit 1 with a one-line error if it is bad.

Example: steps/validate_clip.py --audio x.wav --video x.mp4 --text "bin blue at f two now"
"""
import argparse

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.data.checks import check_record
from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.data.types import UttRecord
from avsr.utils.cli import run_cli


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--audio", required=True, help="16 kHz mono wav")
    p.add_argument("--video", required=True, help="video container (mp4, mpg) with an audio track")
    p.add_argument("--text", required=True)
    p.add_argument("--vocabulary", choices=["grid", "none"], default="grid")
    p.add_argument("--sampling-rate", type=int, default=16000)
    args = p.parse_args()
    rec = UttRecord("clip", "unknown", args.audio, args.video, args.text.strip())
    vocab = grid_vocabulary() if args.vocabulary == "grid" else None
    audio, video = check_record(rec, vocab, expected_sampling_rate=args.sampling_rate)
    print(f"ok: audio {audio.duration:.3f} s, video {video.num_frames} frames at {video.fps:g} fps {video.width}x{video.height}")


if __name__ == "__main__":
    run_cli(main)
