#!/usr/bin/env python3
"""Mouth-ROI track quality and speed, Haar vs landmarks, on a folder of clips (one process, one core).

    .venv/bin/python bench/bench_roi.py --clips ../shared/fixtures/grid_s1 --out-dir /tmp/roi_grid
    .venv/bin/python bench/bench_roi.py --clips data/corpus --max-clips 100 --out-dir /tmp/roi_embedded

Clips: every ``*.mpg`` / ``*.mp4`` under ``--clips`` (sorted; ``--max-clips`` takes an even
spread). Locators: ``haar1`` (Haar on every frame: the per-frame detection rate), ``haar`` and
``landmarks`` as conf/features.yaml sets them (stage 3's settings). Per locator: detection rate
over the frames it ran on, clips that fell back, frame-to-frame centre jitter of the smoothed
track and of the raw detections (pixels and box sides), offset of the box centre from a
reference mouth position and its drift over the clip (first vs last quarter), frames/s.
Reference: the renderer's true mouth (``<clip>.json`` with ``face_boxes``, the embedded corpus)
or else the mean of the 68-point mouth landmarks where the landmark locator placed them (so the
landmark rows' offsets on real clips are not independent). Writes ``stats.json`` and contact
sheets (crops per locator, and frames with both boxes drawn) to ``--out-dir``; prints Markdown.
"""
import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import _common  # noqa: F401  (puts the repository on sys.path)
import cv2
import numpy as np
from tqdm import tqdm

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.utils.config import load_yaml
from avsr.utils.io import write_json_atomic
from avsr.video.contact_sheet import write_contact_sheet
from avsr.video.io import read_video_frames
from avsr.video.landmarks import mouth_boxes_from_landmarks, mouth_centres
from avsr.video.locator import LocatorConfig, locate_mouth
from avsr.video.roi import detect_faces, detection_frames, extract_mouth_rois, mouth_boxes_from_faces
from avsr.video.track_stats import centre_jitter, drift, offset_from_reference, summary

# The renderer's mouth centre inside its true face box (avsr.corpora.synthetic.render.mouth_box).
RENDER_MOUTH = (0.5, 0.73)


def true_mouth(clip: Path, num_frames: int):
    meta = clip.with_suffix(".json")
    if not meta.is_file():
        return None
    boxes = json.loads(meta.read_text()).get("face_boxes")
    if not boxes or len(boxes) != num_frames:
        return None
    b = np.asarray(boxes, dtype=np.float64)
    return np.stack([b[:, 0] + RENDER_MOUTH[0] * b[:, 2], b[:, 1] + RENDER_MOUTH[1] * b[:, 3]], axis=1)


def run_locator(name: str, frames: np.ndarray, cfgs: dict, crop_size: int):
    """(RoiResult, seconds, raw mouth boxes [T, 4], raw-valid mask [T], attempted mask [T])."""
    cfg = cfgs[name]
    t0 = time.perf_counter()
    if name.startswith("haar"):
        detections = detect_faces(frames, **cfg.haar)
        roi = extract_mouth_rois(frames, crop_size=crop_size, detections=detections, detect_every=cfg.haar.get("detect_every", 1))
        seconds = time.perf_counter() - t0
        raw = mouth_boxes_from_faces(np.array([d or (0, 0, 0, 0) for d in detections], dtype=np.float64))
        attempted = detection_frames(len(frames), cfg.haar.get("detect_every", 1))
        # Raw jitter needs detections on consecutive frames: only when the detector ran on every frame.
        return roi, seconds, raw, roi.detected & attempted.all(), attempted
    roi = locate_mouth(frames, cfg, crop_size=crop_size)
    seconds = time.perf_counter() - t0
    attempted = np.ones(len(frames), dtype=bool)
    if roi.points is None:  # fell back to Haar
        return roi, seconds, roi.boxes, roi.detected, detection_frames(len(frames), cfg.haar.get("detect_every", 1))
    unsmoothed = replace(cfg.landmarks, centre_median=1, centre_mean=1, scale_median=1, scale_mean=1)
    return roi, seconds, mouth_boxes_from_landmarks(roi.points, roi.detected, unsmoothed), roi.detected, attempted


def perturb(frames: np.ndarray, roll: float, contrast: float) -> np.ndarray:
    """Harder copies of clean clips: rolled about the frame centre, contrast scaled about mid-grey."""
    if roll:
        height, width = frames.shape[1:]
        m = cv2.getRotationMatrix2D((width / 2, height / 2), roll, 1.0)
        frames = np.stack([cv2.warpAffine(f, m, (width, height), borderMode=cv2.BORDER_REPLICATE) for f in frames])
    if contrast != 1.0:
        frames = np.clip(128 + contrast * (frames.astype(np.float32) - 128), 0, 255).astype(np.uint8)
    return frames


def overlay(frame: np.ndarray, rois: dict) -> np.ndarray:
    """RGB frame with the Haar mouth box (red), the landmark mouth box (green) and landmarks (yellow)."""
    img = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    colours = {"haar": (255, 40, 40), "landmarks": (40, 220, 40)}
    for name, (roi, index) in rois.items():
        if name not in colours:
            continue
        x, y, w, h = (int(round(v)) for v in roi.boxes[index])
        cv2.rectangle(img, (x, y), (x + w, y + h), colours[name], 1)
        if roi.points is not None:
            for px, py in roi.points[index].astype(int):
                cv2.circle(img, (int(px), int(py)), 1, (255, 230, 0), -1)
    # Zoom on the mouth: a square of three mouth boxes around the first locator's box.
    x, y, w, _ = next(iter(rois.values()))[0].boxes[next(iter(rois.values()))[1]]
    cx, cy, half = x + w / 2, y + w / 2, 1.5 * w
    m = np.array([[1.0, 0.0, half - cx], [0.0, 1.0, half - cy]])
    return cv2.warpAffine(img, m, (int(2 * half), int(2 * half)), borderMode=cv2.BORDER_REPLICATE)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=Path, required=True, help="folder searched recursively for *.mpg / *.mp4")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--max-clips", type=int, default=0, help="0 = all; else an even spread")
    p.add_argument("--locators", nargs="+", default=["haar1", "haar", "landmarks"])
    p.add_argument("--sheet-clips", type=int, default=8, help="clips on the contact sheets (half spread, half worst Haar offset)")
    p.add_argument("--conf", type=Path, default=_common.ROOT / "conf" / "features.yaml")
    p.add_argument("--label", default="", help="name of the clip set in the printed table")
    p.add_argument("--roll", type=float, default=0.0, help="rotate every frame by this many degrees (a tilted head)")
    p.add_argument("--contrast", type=float, default=1.0, help="scale pixel contrast (0.2 = dim, flat light)")
    args = p.parse_args()
    cv2.setNumThreads(1)
    video = load_yaml(args.conf)["video"]
    base = LocatorConfig.from_video_conf({**video, "locator": "haar"})
    cfgs = {"haar1": replace(base, haar={**base.haar, "detect_every": 1}), "haar": base,
            "landmarks": replace(base, locator="landmarks")}
    unknown = set(args.locators) - set(cfgs)
    if unknown:
        p.error(f"unknown locator(s) {sorted(unknown)}; choose from {sorted(cfgs)}")
    clips = sorted(c for c in args.clips.rglob("*") if c.suffix in (".mpg", ".mp4"))
    if not clips:
        p.error(f"{args.clips}: no *.mpg / *.mp4 clips")
    if args.max_clips and len(clips) > args.max_clips:
        clips = [clips[i] for i in np.linspace(0, len(clips) - 1, args.max_clips).round().astype(int)]
    crop = int(video.get("crop_size", 44))

    per_clip, pooled = [], {n: {k: [] for k in ("jit_px", "jit_rel", "raw_px", "raw_rel", "offset", "drift")} for n in args.locators}
    totals = {n: {"frames": 0, "attempted": 0, "detected": 0, "seconds": 0.0, "fallback": 0} for n in args.locators}
    for clip in tqdm(clips, desc="clips"):
        frames = perturb(read_video_frames(clip), args.roll, args.contrast)
        truth = true_mouth(clip, len(frames)) if not args.roll else None
        results = {n: run_locator(n, frames, cfgs, crop) for n in args.locators}
        lm = results.get("landmarks")
        if truth is not None:
            reference, ref_valid, ref_kind = truth, np.ones(len(frames), bool), "renderer"
        elif lm is not None and lm[0].points is not None:
            reference, ref_valid, ref_kind = mouth_centres(lm[0].points), lm[0].detected, "landmarks"
        else:
            reference, ref_valid, ref_kind = None, None, "none"
        row = {"clip": str(clip.relative_to(args.clips)), "num_frames": len(frames), "reference": ref_kind}
        for name, (roi, seconds, raw, raw_valid, attempted) in results.items():
            t, pl = totals[name], pooled[name]
            t["frames"] += len(frames)
            t["attempted"] += int(attempted.sum())
            t["detected"] += int(roi.detected[attempted].sum())
            t["seconds"] += seconds
            t["fallback"] += int(roi.used_fallback)
            px, rel = centre_jitter(roi.boxes)
            rpx, rrel = centre_jitter(raw, raw_valid)
            pl["jit_px"].append(px), pl["jit_rel"].append(rel), pl["raw_px"].append(rpx), pl["raw_rel"].append(rrel)
            stats = {"source": roi.source, "detected": round(float(roi.detected[attempted].mean()), 4),
                     "jitter_px_p95": round(float(np.percentile(px, 95)), 3) if len(px) else 0.0, "seconds": round(seconds, 3)}
            if reference is not None:
                off = np.linalg.norm(offset_from_reference(roi.boxes, reference, ref_valid), axis=1)
                d = drift(roi.boxes, reference, ref_valid)
                pl["offset"].append(off), pl["drift"].append(np.array([d]))
                stats.update(offset_p95=round(float(np.percentile(off, 95)), 4) if len(off) else 0.0, drift=round(d, 4))
            row[name] = stats
        per_clip.append(row)

    summaries = {}
    for name in args.locators:
        t, pl = totals[name], pooled[name]
        cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in pl.items()}
        summaries[name] = {
            "clips": len(clips), "frames": t["frames"], "detection_rate": t["detected"] / max(t["attempted"], 1),
            "fallback_clips": t["fallback"], "frames_per_s": t["frames"] / max(t["seconds"], 1e-9),
            **{k: summary(v) for k, v in cat.items()},
        }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out_dir / "stats.json", {"clips_dir": str(args.clips), "summary": summaries, "clips": per_clip})
    sheets = write_sheets(args, clips, per_clip, cfgs, crop)

    label = args.label or args.clips.name
    print(f"{label}: {len(clips)} clips, {totals[args.locators[0]]['frames']} frames; reference: "
          f"{', '.join(sorted({r['reference'] for r in per_clip}))}\n")
    print("| locator | detected (frames run on) | fallback clips | jitter px med / p95 | jitter box med / p95 | raw jitter px med / p95 "
          "| offset box med / p95 | drift box med / p95 | frames/s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in summaries.items():
        f = lambda k, d=2: f"{s[k]['median']:.{d}f} / {s[k]['p95']:.{d}f}" if s[k]["n"] else "n/a"  # noqa: E731
        print(f"| {name} | {100 * s['detection_rate']:.1f} % | {s['fallback_clips']} | {f('jit_px')} | {f('jit_rel', 3)} | "
              f"{f('raw_px')} | {f('offset', 3)} | {f('drift', 3)} | {s['frames_per_s']:.0f} |")
    print("\ncontact sheets: " + ", ".join(str(s) for s in sheets))


def write_sheets(args, clips, per_clip, cfgs, crop) -> list[Path]:
    """Crops of a few clips per locator, plus their middle frames with both mouth boxes drawn."""
    n = min(args.sheet_clips, len(clips))
    spread = list(np.linspace(0, len(clips) - 1, max(1, n - n // 2)).round().astype(int))
    key = "haar" if "haar" in args.locators else args.locators[0]
    worst = sorted(range(len(clips)), key=lambda i: -per_clip[i][key].get("offset_p95", per_clip[i][key]["jitter_px_p95"]))
    picks = spread + [i for i in worst if i not in spread][: n - len(spread)]
    out, frames_cells, frames_labels = [], [], []
    crops = {name: ([], []) for name in args.locators}
    for i in picks:
        frames = perturb(read_video_frames(clips[i]), args.roll, args.contrast)
        rois = {name: locate_mouth(frames, cfgs[name], crop_size=crop) for name in args.locators}
        mid = len(frames) // 2
        frames_cells.append(overlay(frames[mid], {k: (v, mid) for k, v in rois.items()}))
        frames_labels.append(f"{clips[i].stem} f{mid}")
        for name, roi in rois.items():
            for j in np.linspace(0, len(frames) - 1, 10).round().astype(int):
                crops[name][0].append(roi.crops[j])
                crops[name][1].append(f"{clips[i].stem[:8]} {j}{'' if roi.detected[j] else '*'}")
    for name, (images, labels) in crops.items():
        out.append(write_contact_sheet(images, labels, args.out_dir / f"crops_{name}.png", num_cols=10, cell_size=80,
                                       title=f"{name}: 10 crops per clip (* = frame not detected, interpolated)"))
    out.append(write_contact_sheet(frames_cells, frames_labels, args.out_dir / "boxes.png", num_cols=4, cell_size=300,
                                   title="mouth box: Haar red, landmarks green, landmarks yellow", color=True))
    return out


if __name__ == "__main__":
    main()
