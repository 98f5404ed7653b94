#!/usr/bin/env python3
"""Feature-extraction throughput on one core: audio (fbank, MFCC) and video (decode, Haar, ROI, DCT).

Example: .venv/bin/python bench/bench_features.py data/manifests/synthetic_grid_cuts_test.jsonl.gz --num-cuts 50
Prints a table of seconds per clip and frames per second for each step.
"""
import argparse
import time
from pathlib import Path

import cv2

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.data.manifests import load_cuts
from avsr.data.video_cuts import load_video_frames
from avsr.features.audio import compute_fbank, compute_mfcc
from avsr.utils.config import load_yaml
from avsr.video.roi import detect_faces, extract_mouth_rois, roi_dct_features


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cuts", type=Path)
    p.add_argument("--num-cuts", type=int, default=50)
    p.add_argument("--conf", type=Path, default=Path(__file__).resolve().parents[1] / "conf" / "features.yaml")
    args = p.parse_args()
    cv2.setNumThreads(1)
    haar = load_yaml(args.conf)["video"].get("haar", {})
    cuts = list(load_cuts(args.cuts))[: args.num_cuts]
    seconds = dict.fromkeys(["audio load", "fbank 80", "mfcc 24", "video decode", "haar detect", "mouth crops", "roi dct"], 0.0)
    audio_s = video_frames = 0.0

    def timed(name, fn, *a, **kw):
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        seconds[name] += time.perf_counter() - t0
        return out

    for cut in cuts:
        samples = timed("audio load", cut.load_audio)[0]
        timed("fbank 80", compute_fbank, samples)
        timed("mfcc 24", compute_mfcc, samples)
        frames = timed("video decode", load_video_frames, cut)
        detections = timed("haar detect", detect_faces, frames, **haar)
        roi = timed("mouth crops", extract_mouth_rois, frames, detections=detections)
        timed("roi dct", roi_dct_features, roi.crops)
        audio_s += cut.duration
        video_frames += len(frames)

    print(f"{len(cuts)} clips, {audio_s:.1f} s of audio, {int(video_frames)} video frames ({frames.shape[2]}x{frames.shape[1]}), 1 process\n")
    print(f"| step | ms / clip | throughput |\n|---|---:|---:|")
    for name, s in seconds.items():
        per_clip = 1000 * s / len(cuts)
        rate = f"{audio_s / s:.0f}x real time" if name in ("audio load", "fbank 80", "mfcc 24") else f"{video_frames / s:.0f} frames/s"
        print(f"| {name} | {per_clip:.1f} | {rate} |")
    total = sum(seconds.values())
    print(f"| total | {1000 * total / len(cuts):.1f} | {len(cuts) / total:.2f} clips/s |")


if __name__ == "__main__":
    main()
