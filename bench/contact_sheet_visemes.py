#!/usr/bin/env python3
"""Write a PNG contact sheet of rendered mouth crops: one row per phone, one column per speaker.

Each cell is the middle frame of a clip in which the phone is held between two short pauses, so the
mouth reaches the phone's target; p, b and m rows should look alike, a / u: / i: / f rows should not.
A first column of whole faces (one per speaker, shown for the first row) is added on the left of the sheet.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.data.types import Segment  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.io import atomic_path  # noqa: E402
from avsr.corpora.synthetic.render import mouth_box, render_face_video, sample_face_style  # noqa: E402

DEFAULT_PHONES = ["_", "p", "b", "m", "f", "T", "t", "tS", "k", "r", "w", "u:", "0", "a", "E", "i:", "@", "aI"]


def held_phone_clip(phone: str, style, seed: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Frames and boxes of a 1.2 s clip: pause, ``phone`` held 0.4-0.8 s, pause."""
    phones = [Segment("_", 0.0, 0.4), Segment(phone, 0.4, 0.8), Segment("_", 0.8, 1.2)]
    words = [Segment("w", 0.4, 0.8)]
    return render_face_video(phones, words, 1.2, style, seed=seed, size=size)


def contact_sheet(phones: list[str], n_speakers: int, seed: int, scale: int = 3) -> np.ndarray:
    """Grey image: rows = phones, columns = speakers (mouth crops, upscaled ``scale``×)."""
    rng = np.random.default_rng(seed)
    styles = [sample_face_style(rng) for _ in range(n_speakers)]
    label_w = 60
    rows = []
    faces = []
    for r, ph in enumerate(phones):
        cells = []
        for s, st in enumerate(styles):
            frames, boxes = held_phone_clip(ph, st, seed=1000 * s + r)
            # Middle of the phone (diphthongs: near their end, to show the second shape).
            k = 18 if len(ph) > 1 and ph in ("aI", "aU", "eI", "oU", "A@", "i@", "o@") else 15
            x, y, w, h = mouth_box(boxes[k])
            crop = frames[k, max(y, 0):y + h, max(x, 0):x + w]
            crop = cv2.resize(crop, (48 * scale, 28 * scale), interpolation=cv2.INTER_NEAREST)
            cells.append(np.pad(crop, 2, constant_values=255))
            if r == 0:
                faces.append(frames[k])
        label = np.full((cells[0].shape[0], label_w), 255, np.uint8)
        cv2.putText(label, ph, (4, label.shape[0] // 2 + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1, cv2.LINE_AA)
        rows.append(np.concatenate([label] + cells, 1))
    sheet = np.concatenate(rows, 0)
    face_strip = np.concatenate(faces, 1)
    pad = np.full((face_strip.shape[0], sheet.shape[1]), 255, np.uint8)
    pad[:, : min(face_strip.shape[1], sheet.shape[1])] = face_strip[:, : sheet.shape[1]]
    return np.concatenate([pad, sheet], 0)


# "bin blue at f two now" with plausible espeak-like timings (seconds).
_SENTENCE = [("_", 0.0, 0.30), ("b", 0.34, 0.38), ("I", 0.38, 0.48), ("n", 0.48, 0.55), ("b", 0.58, 0.62),
             ("l", 0.62, 0.68), ("u:", 0.68, 0.84), ("a", 0.84, 0.94), ("t#", 0.94, 1.00), ("E", 1.00, 1.10),
             ("f", 1.10, 1.20), ("t", 1.24, 1.28), ("u:", 1.28, 1.44), ("n", 1.44, 1.51), ("aU", 1.51, 1.80),
             ("_", 1.80, 2.20)]
_WORDS = [("bin", 0.30, 0.55), ("blue", 0.55, 0.84), ("at", 0.84, 1.00), ("f", 1.00, 1.20), ("two", 1.20, 1.44),
          ("now", 1.44, 1.80)]


def sentence_strip(n_speakers: int, seed: int, every: int = 2) -> np.ndarray:
    """Grey image: one row per speaker, every ``every``-th frame of a GRID sentence, phone labels on top."""
    rng = np.random.default_rng(seed)
    phones = [Segment(*p) for p in _SENTENCE]
    words = [Segment(*w) for w in _WORDS]
    rows = []
    for s in range(n_speakers):
        frames, _ = render_face_video(phones, words, 2.2, sample_face_style(rng), seed=seed + s)
        rows.append(np.concatenate(list(frames[8:46:every]), 1))
    header = np.full((16, rows[0].shape[1]), 255, np.uint8)
    for j, k in enumerate(range(8, 46, every)):
        t = (k + 0.5) / 25
        ph = next((p.symbol for p in phones if p.start <= t < p.end), "")
        cv2.putText(header, ph, (j * 128 + 50, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 0, 1, cv2.LINE_AA)
    return np.concatenate([header] + rows, 0)


def _write_png(path: str, img: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        ok, buf = cv2.imencode(".png", img)
        tmp.write_bytes(buf.tobytes())
    print(f"wrote {path} ({img.shape[1]}x{img.shape[0]})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/visemes.png", help="output PNG path")
    ap.add_argument("--speakers", type=int, default=8, help="number of sampled face styles (columns)")
    ap.add_argument("--phones", default=",".join(DEFAULT_PHONES), help="comma-separated espeak phones (rows)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sentence-out", default=None,
                    help="also write a strip of whole frames of one sentence for 4 speakers to this PNG")
    args = ap.parse_args()
    _write_png(args.out, contact_sheet(args.phones.split(","), args.speakers, args.seed))
    if args.sentence_out:
        _write_png(args.sentence_out, sentence_strip(4, args.seed))


if __name__ == "__main__":
    run_cli(main)
