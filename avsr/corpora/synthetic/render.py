"""Synthetic talking-face renderer for the embedded "synthetic GRID" corpus.

A frontal face (head oval with Lambertian shading, hair, ears, eyebrows, eyes with pupils, nose
shading, lips) is drawn once per utterance at twice the output size; per frame only the mouth
region is redrawn from the interpolated articulatory parameters (see ``visemes.py``), blurred and
pasted, and the whole frame is warped (head motion) and decimated to the output size in one
``cv2.warpAffine``. The jaw (chin) drops with the lip opening. Lighting flicker, blinks and
Gaussian sensor noise are added per frame.

Mouth parameters come from :mod:`avsr.corpora.synthetic.lip_motion`: keyframed at phone centres
(shifted ahead of the audio with a speaker's :class:`TalkerDynamics`), cosine-interpolated in time
(coarticulation) and lightly smoothed, then sampled at the frame centres ((k + 0.5) / fps). Bilabial closures are held
long enough that at least one frame shows the closed mouth. Speaker identity lives in
:class:`FaceStyle`; per-utterance randomness (head motion, flicker, blinks, noise, token-to-token
target jitter) comes from the ``seed``.

Speed: ~1,200-1,500 frames/s on one core at 128×128 (cv2.setNumThreads(1) in worker processes
avoids thread oversubscription). OpenCV's frontal-face Haar cascade finds the face in all frames
measured (see the helper report); its box is about 1.2× wider, 0.9× as tall and a little lower
than the true face box returned here.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from avsr.data.types import Segment
from avsr.corpora.synthetic.lip_motion import TalkerDynamics, mouth_trajectory
from avsr.corpora.synthetic.visemes import MOUTH_PARAMS

SUPERSAMPLE = 2          # drawing scale relative to the output frame
_SUB = 4                 # cv2 fixed-point shift for sub-pixel polygon vertices
_SUBF = float(1 << _SUB)
_P = {name: i for i, name in enumerate(MOUTH_PARAMS)}


@dataclass(frozen=True)
class FaceStyle:
    """Per-speaker appearance. Lengths are in pixels of a 128×128 output frame (scaled for others)."""

    cx: float                  # face-oval centre
    cy: float
    face_rx: float             # face-oval half-width / half-height
    face_ry: float
    jaw_taper: float           # how much narrower the jaw is than the cheeks (0..0.3)
    eye_dy: float              # eye line above the oval centre, fraction of face_ry
    eye_dx: float              # eye half-spacing, fraction of face_rx
    eye_size: float            # eye half-width, fraction of face_rx
    brow_gap: float            # eyebrow above eye, fraction of face_ry
    brow_thick: float          # px
    nose_len: float            # nose tip below the eye line, fraction of face_ry
    nose_w: float              # nose half-width, fraction of face_rx
    mouth_dy: float            # mouth below the oval centre, fraction of face_ry
    mouth_hw: float            # mouth half-width at rest, px
    upper_lip: float           # lip thickness at rest, px
    lower_lip: float
    lip_tone: float            # lip brightness relative to the skin (<1: darker)
    skin: float                # skin grey level 0..255
    hair: float                # hair grey level
    hairline: float            # forehead hair edge, fraction of face_ry above the centre
    background: float          # background grey level
    background_grad: float     # background left-right gradient, grey levels
    light_azimuth: float       # light direction in the image plane, radians
    light_elevation: float     # light angle from the viewing axis, radians (0 = frontal)
    ambient: float             # ambient share of the shading (0..1)
    socket_depth: float        # eye-socket darkening 0..1
    iris_tone: float           # iris grey level
    interior_tone: float       # mouth interior grey level
    teeth_tone: float          # teeth grey level
    blur: float                # Gaussian blur sigma, output px
    noise: float               # sensor noise std, grey levels
    articulation: float        # how widely this speaker opens (multiplies the viseme targets)
    motion: float              # head-motion amplitude scale
    flicker: float             # lighting-flicker amplitude (relative gain)
    blink_rate: float          # blinks per second
    hair_len: float            # 0 = short, 1 = side hair down to the jaw (covers the ears)
    hair_part: float           # fringe asymmetry (-1..1)
    teeth_show: float          # idiosyncratic: multiplies how much teeth show
    round_gain: float          # idiosyncratic: multiplies lip rounding
    smile: float               # mouth-corner lift at rest, fraction of the mouth half-width
    jaw_gain: float            # how far the chin drops with the lip opening
    stubble: float             # beard shadow on the lower face, 0 (none) .. 1 (dark)


def sample_face_style(rng: np.random.Generator) -> FaceStyle:
    """Draw one speaker's face style."""
    u = rng.uniform
    rx = u(29.0, 35.0)
    return FaceStyle(
        cx=64.0 + u(-4.0, 4.0), cy=68.0 + u(-4.0, 3.0), face_rx=rx, face_ry=rx * u(1.27, 1.40),
        jaw_taper=u(0.10, 0.25), eye_dy=u(0.14, 0.22), eye_dx=u(0.38, 0.46), eye_size=u(0.17, 0.22),
        brow_gap=u(0.11, 0.16), brow_thick=u(2.0, 3.6), nose_len=u(0.36, 0.46), nose_w=u(0.14, 0.19),
        mouth_dy=u(0.42, 0.50), mouth_hw=rx * u(0.36, 0.44), upper_lip=u(2.0, 3.3), lower_lip=u(2.8, 4.6),
        lip_tone=u(0.66, 0.86), skin=u(105.0, 205.0), hair=u(15.0, 85.0), hairline=u(0.62, 0.82),
        background=u(50.0, 210.0), background_grad=u(-40.0, 40.0),
        light_azimuth=u(0.0, 2 * math.pi), light_elevation=u(0.0, 0.6), ambient=u(0.25, 0.45),
        socket_depth=u(0.18, 0.35), iris_tone=u(25.0, 90.0), interior_tone=u(12.0, 40.0),
        teeth_tone=u(175.0, 240.0), blur=u(0.35, 1.1), noise=u(1.5, 6.0), articulation=u(0.75, 1.25),
        motion=u(0.5, 1.5), flicker=u(0.005, 0.03), blink_rate=u(0.1, 0.4),
        hair_len=float(rng.choice([0.0, u(0.2, 1.0)])), hair_part=u(-1.0, 1.0),
        teeth_show=u(0.6, 1.3), round_gain=u(0.7, 1.25), smile=u(-0.05, 0.12), jaw_gain=u(0.5, 0.9),
        stubble=float(u(0.3, 1.0) if u() < 0.3 else 0.0),
    )


# ----------------------------------------------------------------------------------------------
# Static face (drawn once per utterance, at SUPERSAMPLE× the output size)
# ----------------------------------------------------------------------------------------------

class _Geom:
    """Face geometry of one style in supersampled pixel units."""

    def __init__(self, style: FaceStyle, size: int):
        k = SUPERSAMPLE * size / 128.0
        self.k = k
        self.n = SUPERSAMPLE * size
        self.cx, self.cy = style.cx * k, style.cy * k
        self.rx, self.ry = style.face_rx * k, style.face_ry * k
        self.eye_y = self.cy - style.eye_dy * self.ry
        self.eye_dx = style.eye_dx * self.rx
        self.eye_rx = style.eye_size * self.rx
        self.eye_ry = 0.42 * self.eye_rx
        self.brow_y = self.eye_y - style.brow_gap * self.ry
        self.nose_y = self.eye_y + style.nose_len * self.ry
        self.nose_w = style.nose_w * self.rx
        self.mouth_x = self.cx
        self.mouth_y = self.cy + style.mouth_dy * self.ry
        self.mouth_hw = style.mouth_hw * k
        self.upper_lip = style.upper_lip * k
        self.lower_lip = style.lower_lip * k


def _soft_ellipse(X: np.ndarray, Y: np.ndarray, cx: float, cy: float, rx: float, ry: float,
                  edge: float = 1.0) -> np.ndarray:
    """Antialiased ellipse coverage in [0, 1] (edge width ``edge`` pixels)."""
    d = np.sqrt(((X - cx) / rx) ** 2 + ((Y - cy) / ry) ** 2)
    return np.clip(0.5 - (d - 1.0) * min(rx, ry) / edge, 0.0, 1.0)


def _gauss(X: np.ndarray, Y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * (((X - cx) / sx) ** 2 + ((Y - cy) / sy) ** 2))


def _over(img: np.ndarray, alpha: np.ndarray, tone) -> np.ndarray:
    return img * (1.0 - alpha) + tone * alpha


def _eye_layers(X: np.ndarray, Y: np.ndarray, g: _Geom, style: FaceStyle, skin_at_eye: float,
                gaze: float, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Coverage and grey level of both eyes (almond, iris, pupil, lid line), or closed lids."""
    alpha = np.zeros_like(X)
    tone = np.zeros_like(X)
    for side in (-1.0, 1.0):
        ex = g.cx + side * g.eye_dx
        ey = g.eye_y
        u = (X - ex) / g.eye_rx
        # Almond: upper lid arc higher than the lower one.
        top = ey - g.eye_ry * 1.15 * np.sqrt(np.clip(1.0 - u * u, 0.0, 1.0))
        bot = ey + g.eye_ry * 0.85 * np.sqrt(np.clip(1.0 - u * u, 0.0, 1.0))
        inside = np.clip(np.minimum(Y - top, bot - Y) / 1.0 + 0.5, 0.0, 1.0) * (np.abs(u) < 1.0)
        if closed:
            lid = np.clip(1.0 - np.abs(Y - (ey + 0.3 * g.eye_ry)) / 1.6, 0.0, 1.0) * (np.abs(u) < 0.95)
            a = lid
            alpha = np.maximum(alpha, a)
            tone = np.where(a > 0, skin_at_eye * 0.35, tone)
            continue
        sclera = min(255.0, skin_at_eye * 1.05 + 15.0)
        t = np.full_like(X, sclera)
        ix = ex + gaze * g.eye_rx * 0.25
        iris_r = 0.52 * g.eye_rx
        iris = _soft_ellipse(X, Y, ix, ey, iris_r, iris_r)
        pupil = _soft_ellipse(X, Y, ix, ey, 0.45 * iris_r, 0.45 * iris_r)
        t = _over(t, iris, style.iris_tone)
        t = _over(t, pupil, 8.0)
        # Dark upper-lid line / lashes.
        lash = np.clip(1.0 - np.abs(Y - top) / (0.09 * g.eye_ry * 4), 0.0, 1.0) * (np.abs(u) < 1.05)
        t = _over(t, lash * inside.clip(0.3, 1.0), 15.0)
        a = np.maximum(inside, lash * 0.9)
        alpha = np.maximum(alpha, a)
        tone = np.where(a > 0, t, tone)
    return alpha, tone


def _poly_mask(n: int, polys: list[np.ndarray]) -> np.ndarray:
    m = np.zeros((n, n), np.uint8)
    cv2.fillPoly(m, [np.round(p * _SUBF).astype(np.int32) for p in polys], 255, cv2.LINE_AA, _SUB)
    return m.astype(np.float32) / 255.0


def _hair_texture(style: FaceStyle, n: int, streak: float = 6.0) -> np.ndarray:
    """Multiplicative streak texture for the hair, the same for every utterance of a speaker."""
    key = int(abs(style.hair * 7919.0 + style.skin * 104729.0 + style.cx * 1299709.0)) % (2 ** 32)
    r = np.random.default_rng(key)
    tex = r.standard_normal((n, n)).astype(np.float32)
    tex = cv2.GaussianBlur(tex, (0, 0), sigmaX=0.8, sigmaY=streak)
    return 1.0 + 0.6 * tex


@functools.lru_cache(maxsize=2)
def _face_canvas(style: FaceStyle, size: int) -> tuple[np.ndarray, float]:
    """The face without eyes and mouth (float, [n, n], read-only) and the skin level at the eyes.

    The same for every utterance of a speaker: drawn once per process and style (it was a
    seventh of the rendering time when drawn per utterance)."""
    g = _Geom(style, size)
    n = g.n
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    X, Y = xx + 0.5, yy + 0.5
    img = style.background + style.background_grad * (X / n - 0.5)

    # Light direction (x right, y down, z towards the camera).
    lx = math.sin(style.light_elevation) * math.cos(style.light_azimuth)
    ly = math.sin(style.light_elevation) * math.sin(style.light_azimuth)
    lz = math.cos(style.light_elevation)

    def shade(nx, ny, nz):
        return style.ambient + (1.0 - style.ambient) * np.clip(nx * lx + ny * ly + nz * lz, 0.0, 1.0)

    # Shoulders and neck.
    shoulders = _soft_ellipse(X, Y, g.cx, g.cy + 1.95 * g.ry, 3.3 * g.rx, 0.8 * g.ry, 2.0)
    img = _over(img, shoulders, 0.55 * style.background + 0.45 * style.hair + 20.0)
    neck_a = np.clip(np.minimum(0.7 * g.rx - np.abs(X - g.cx), Y - g.cy) + 0.5, 0.0, 1.0)
    neck_a *= np.clip((g.cy + 2.0 * g.ry - Y) / 4.0, 0.0, 1.0)
    neck_u = np.clip((X - g.cx) / (0.7 * g.rx), -0.99, 0.99)
    img = _over(img, neck_a, style.skin * 0.72 * shade(neck_u, 0.0, np.sqrt(1 - neck_u ** 2)))

    # Hair mass behind the head.
    # Ears (under long hair).
    for side in (-1.0, 1.0):
        ear = _soft_ellipse(X, Y, g.cx + side * 0.97 * g.rx, g.eye_y + 0.18 * g.ry, 0.16 * g.rx, 0.26 * g.ry, 1.5)
        img = _over(img, ear, style.skin * 0.78)

    # Hair mass behind the head, longer at the sides for long hair; streaky texture fixed per speaker.
    hl = style.hair_len
    hair_a = _soft_ellipse(X, Y, g.cx, g.cy - (0.22 - 0.3 * hl) * g.ry, (1.13 + 0.08 * hl) * g.rx,
                           (1.02 + 0.3 * hl) * g.ry, 2.0)
    if hl > 0:
        hair_a *= np.clip((g.cy + (0.1 + 0.8 * hl) * g.ry - Y) / 3.0, 0.0, 1.0)
    hair_tone = style.hair * (0.85 + 0.3 * shade(np.clip((X - g.cx) / (1.2 * g.rx), -1, 1), -0.3, 0.8))
    hair_tone = hair_tone * _hair_texture(style, n)
    img = _over(img, hair_a, hair_tone)

    # Face oval, narrower at the jaw; Lambertian shading of an ellipsoid.
    v = (Y - g.cy) / g.ry
    rx_eff = g.rx * (1.0 - style.jaw_taper * np.clip(v, 0.0, 1.0) ** 1.5)
    u = (X - g.cx) / rx_eff
    d2 = u * u + v * v
    face_a = np.clip(0.5 + (1.0 - np.sqrt(d2)) * g.rx / 1.2, 0.0, 1.0)
    nz = np.sqrt(np.clip(1.0 - d2, 0.0, 1.0)) + 0.15
    norm = np.sqrt(u * u * 0.8 + v * v * 0.5 + nz * nz)
    skin = style.skin * shade(u * 0.9 / norm, v * 0.7 / norm, nz / norm)
    skin_eye = style.skin * shade(0.0, 0.0, 1.0)

    # Eye sockets, brow ridge, nose bridge and side shadow, nostrils, under-nose and lip shadows.
    mod = np.ones_like(X)
    for side in (-1.0, 1.0):
        mod -= style.socket_depth * _gauss(X, Y, g.cx + side * g.eye_dx, g.eye_y - 0.2 * g.eye_ry,
                                            1.3 * g.eye_rx, 1.5 * g.eye_ry)
        mod += 0.08 * _gauss(X, Y, g.cx + side * g.eye_dx * 0.9, g.eye_y + 0.22 * g.ry, 0.9 * g.eye_rx, 0.5 * g.eye_rx)
    bridge = _gauss(X, Y, g.cx, 0.5 * (g.eye_y + g.nose_y), 0.35 * g.nose_w, 0.45 * (g.nose_y - g.eye_y))
    mod += 0.10 * bridge
    shadow_side = -1.0 if lx > 0 else 1.0
    mod -= (0.10 + 0.25 * abs(lx)) * _gauss(X, Y, g.cx + shadow_side * 0.75 * g.nose_w,
                                             0.5 * (g.eye_y + g.nose_y) + 0.15 * (g.nose_y - g.eye_y),
                                             0.3 * g.nose_w, 0.4 * (g.nose_y - g.eye_y))
    mod += 0.10 * _gauss(X, Y, g.cx, g.nose_y - 0.3 * g.nose_w, 0.55 * g.nose_w, 0.45 * g.nose_w)
    mod -= 0.18 * _gauss(X, Y, g.cx, g.nose_y + 0.45 * g.nose_w, 1.0 * g.nose_w, 0.25 * g.nose_w)
    for side in (-1.0, 1.0):
        mod -= 0.45 * _gauss(X, Y, g.cx + side * 0.45 * g.nose_w, g.nose_y + 0.12 * g.nose_w,
                             0.22 * g.nose_w, 0.13 * g.nose_w)
        # Nasolabial folds.
        mod -= 0.06 * _gauss(X, Y, g.cx + side * 1.15 * g.mouth_hw, g.nose_y + 0.5 * (g.mouth_y - g.nose_y),
                             0.12 * g.mouth_hw, 0.5 * (g.mouth_y - g.nose_y))
    mod -= 0.12 * _gauss(X, Y, g.cx, g.mouth_y + g.lower_lip + 0.35 * g.mouth_hw, 0.5 * g.mouth_hw, 0.15 * g.mouth_hw)
    skin = skin * mod
    if style.stubble > 0:
        # Beard shadow: lower face below the nose, speckled; the lips are drawn over it later.
        top = g.nose_y + 0.1 * (g.mouth_y - g.nose_y)
        ramp = np.clip((Y - top) / (1.1 * (g.mouth_y - g.nose_y)), 0.0, 1.0)
        region = ramp * ramp * (3.0 - 2.0 * ramp)                       # smoothstep: no hard edge
        region *= np.clip(1.0 - ((X - g.cx) / (1.05 * g.rx)) ** 2, 0.0, 1.0)
        speck = 0.75 + 0.25 * _hair_texture(style, n, streak=1.0)
        skin = skin * (1.0 - 0.4 * style.stubble * region * speck)

    # Forehead hair: covers the face above the hairline (a curved fringe).
    xn = (X - g.cx) / g.rx
    hair_edge = g.cy - style.hairline * g.ry + 0.25 * g.ry * xn * xn + 0.08 * g.ry * style.hair_part * xn
    fringe = np.clip((hair_edge - Y) / 1.5 + 0.5, 0.0, 1.0)
    skin = _over(skin, fringe, hair_tone)
    img = _over(img, face_a, skin)

    # Eyebrows: crescents above the eyes.
    brows = []
    for side in (-1.0, 1.0):
        t = np.linspace(-1.0, 1.0, 13)
        bx = g.cx + side * (g.eye_dx + t * 1.25 * g.eye_rx)
        arch = g.brow_y - 0.35 * g.eye_ry * (1.0 - t * t)
        th = style.brow_thick * g.k * (1.0 - 0.35 * (side * t > 0.3) * (side * t - 0.3))
        brows.append(np.concatenate([np.stack([bx, arch - th * 0.5], 1), np.stack([bx, arch + th * 0.5], 1)[::-1]]))
    brow_a = _poly_mask(n, brows) * 0.9
    img = _over(img, brow_a, style.hair * 0.9 + 10.0)
    img.setflags(write=False)
    return img, skin_eye


def _static_face(style: FaceStyle, g: _Geom, gaze: float, eye_states: Sequence[bool], size: int) -> list[np.ndarray]:
    """The face without mouth, uint8 [n, n], once per eye state (False = open, True = closed)."""
    img, skin_eye = _face_canvas(style, size)
    n = g.n

    # Eyes: only their bounding region is composited, once per requested eye state.
    ex0 = int(max(0, g.cx - g.eye_dx - 1.2 * g.eye_rx))
    ex1 = int(min(n, g.cx + g.eye_dx + 1.2 * g.eye_rx + 1))
    ey0 = int(max(0, g.eye_y - 1.6 * g.eye_ry - 2))
    ey1 = int(min(n, g.eye_y + 1.3 * g.eye_ry + 2))
    yy, xx = np.mgrid[ey0:ey1, ex0:ex1].astype(np.float32)
    X, Y = xx + 0.5, yy + 0.5  # pixel centres of the eye region
    out = []
    for closed in eye_states:
        face = img.copy()
        sl = (slice(ey0, ey1), slice(ex0, ex1))
        eye_a, eye_t = _eye_layers(X, Y, g, style, skin_eye, gaze, closed)
        face[sl] = _over(face[sl], eye_a, eye_t)
        out.append(np.clip(face, 0, 255).astype(np.uint8))
    return out


# ----------------------------------------------------------------------------------------------
# Mouth (drawn per frame)
# ----------------------------------------------------------------------------------------------

_U = np.linspace(-1.0, 1.0, 25)


def _draw_mouth(roi: np.ndarray, ox: float, oy: float, g: _Geom, style: FaceStyle, p: np.ndarray,
                skin_local: float) -> None:
    """Draw lips, interior, teeth and tongue for parameters ``p`` into ``roi`` (uint8, in place)."""
    opening, width, rnd, teeth, tongue, tuck = (float(x) for x in p)
    rnd = min(max(rnd * style.round_gain, 0.0), 1.0)
    teeth = min(max(teeth * style.teeth_show, 0.0), 1.0)
    tongue = min(max(tongue, 0.0), 1.0)
    tuck = min(max(tuck, 0.0), 1.0)
    press = 1.0 + 0.6 * min(opening, 0.0)        # pressed lips roll in and look thinner
    hw = g.mouth_hw * min(max(width, 0.45), 1.45) * (1.0 - 0.12 * rnd)
    gap = max(opening, 0.0) * 0.85 * g.mouth_hw
    ut = g.upper_lip * (1.0 + 0.45 * rnd) * press
    lt = g.lower_lip * (1.0 + 0.35 * rnd) * press * (1.0 - 0.35 * tuck)
    mx, my = g.mouth_x - ox, g.mouth_y - oy
    u = _U
    uu = 1.0 - u * u
    expo = 1.0 - 0.5 * rnd                    # rounded openings are more circular
    s = np.power(uu, expo)
    x = mx + u * hw
    base = my - style.smile * g.mouth_hw * (1.0 - 0.7 * rnd) * u ** 4   # corner lift
    up_in = base - gap * 0.35 * s
    lo_in = base + gap * 0.65 * s - tuck * 0.25 * g.lower_lip * np.sqrt(uu)
    bow = 1.0 - 0.28 * np.exp(-(u / 0.16) ** 2)  # cupid's bow dip
    up_out = up_in - ut * np.power(uu, 0.55) * bow - 0.15 * ut * np.exp(-(np.abs(u) - 0.3) ** 2 / 0.02)
    lo_out = lo_in + lt * np.power(uu, 0.5)

    lip = skin_local * style.lip_tone
    fill = cv2.fillPoly

    def poly(top: np.ndarray, bottom: np.ndarray, xs: np.ndarray = x) -> np.ndarray:
        # (xs, top) forward then (xs, bottom) backward, in cv2's fixed point; filled in place
        # (np.stack/concatenate were a third of the mouth drawing time).
        m = len(xs)
        pts = np.empty((2 * m, 2))
        pts[:m, 0], pts[:m, 1] = xs, top
        pts[m:, 0], pts[m:, 1] = xs[::-1], bottom[::-1]
        pts *= _SUBF
        return np.round(pts, out=pts).astype(np.int32)

    # Soft shadow under the lower lip.
    fill(roi, [poly(lo_out - 1.0, lo_out + 0.35 * lt * np.sqrt(uu))], int(skin_local * 0.86), cv2.LINE_AA, _SUB)
    if gap > 0.3:
        fill(roi, [poly(up_in, lo_in)], int(style.interior_tone), cv2.LINE_AA, _SUB)
        if 0.05 < tongue < 0.6:                      # tongue body behind the lower teeth
            tw = 0.55 * hw
            ty = lo_in[12] - tongue * 0.5 * gap
            ty = max(ty, up_in[12] + 0.5)
            tc = (int(round((mx) * _SUBF)), int(round(((ty + lo_in[12]) * 0.5 + 0.15 * gap) * _SUBF)))
            ax = (int(round(tw * _SUBF)), int(round(max((lo_in[12] - ty) * 0.5 + 0.15 * gap, 0.5) * _SUBF)))
            cv2.ellipse(roi, tc, ax, 0.0, 0.0, 360.0, int(lip * 0.92), cv2.LINE_AA, _SUB)
    # Lower lip, then the upper teeth (which overlap it for f/v), then the upper lip.
    fill(roi, [poly(lo_in, lo_out)], int(min(255.0, lip * 1.03 + 4.0 * rnd)), cv2.LINE_AA, _SUB)
    if teeth > 0.05 and (gap > 0.3 or tuck > 0.05):
        # For f/v the upper teeth rest on the raised lower lip and show over its upper half.
        band = teeth * (min(0.75 * gap, 0.3 * g.mouth_hw) + tuck * 0.6 * g.lower_lip)
        tmask = np.abs(u) < 0.78 * (1.0 - 0.25 * rnd)
        tx = x[tmask]
        ttop = up_in[tmask]
        limit = lo_in[tmask] + tuck * 0.6 * lt
        tbot = np.minimum(ttop + band * np.power(uu[tmask], 0.3), limit)
        # Teeth are brighter than the skin, dimmer in a narrow (shadowed) opening.
        bright = min(250.0, max(style.teeth_tone, skin_local + 40.0))
        shade_teeth = bright * (0.6 + 0.4 * min(1.0, (gap + tuck * 0.25 * g.mouth_hw) / (0.25 * g.mouth_hw)))
        fill(roi, [poly(ttop, tbot, tx)], int(min(255.0, shade_teeth)), cv2.LINE_AA, _SUB)
    if tongue >= 0.6 and gap > 0.3:
        # Dental (th): the tongue tip shows in front of the upper teeth, filling the lower gap.
        tip_h = 0.5 * (0.45 + 0.4 * tongue) * gap + 0.25 * g.lower_lip
        tc = (int(round(mx * _SUBF)), int(round((lo_in[12] - 0.25 * gap) * _SUBF)))
        ax = (int(round(0.42 * hw * _SUBF)), int(round(tip_h * _SUBF)))
        cv2.ellipse(roi, tc, ax, 0.0, 0.0, 360.0, int(min(255.0, lip * 1.08)), cv2.LINE_AA, _SUB)
    fill(roi, [poly(up_out, up_in)], int(lip * 0.86), cv2.LINE_AA, _SUB)
    if gap < 2.0 * g.k and tuck < 0.3:
        # Closed lips meet in a dark line, fading as the lips part.
        line = np.round(np.stack([x, 0.5 * (up_in + lo_in)], 1) * _SUBF).astype(np.int32)
        # A shadow crease, not a hole: clearly lighter than the open mouth interior.
        tone = 0.86 * lip * (0.72 - 0.2 * (1.0 - press))
        cv2.polylines(roi, [line], False, int(tone), max(1, int(round(0.7 * g.k))), cv2.LINE_AA, _SUB)


# ----------------------------------------------------------------------------------------------
# Motion, lighting, noise
# ----------------------------------------------------------------------------------------------

def _smooth_noise(rng: np.random.Generator, t: np.ndarray, f_lo: float, f_hi: float, n: int = 3) -> np.ndarray:
    """Unit-RMS smooth random signal: a sum of ``n`` random sinusoids between f_lo and f_hi Hz."""
    f = rng.uniform(f_lo, f_hi, n)
    ph = rng.uniform(0.0, 2 * math.pi, n)
    a = rng.uniform(0.5, 1.0, n)
    sig = (a[:, None] * np.sin(2 * math.pi * f[:, None] * t[None, :] + ph[:, None])).sum(0)
    return sig / math.sqrt(0.5 * float((a * a).sum()))


def _blinks(rng: np.random.Generator, n_frames: int, fps: int, rate: float) -> np.ndarray:
    """Boolean [n_frames]: frames with closed eyes (blinks of 2 frames, Poisson-spaced)."""
    closed = np.zeros(n_frames, bool)
    t = rng.exponential(1.0 / max(rate, 1e-3))
    while t * fps < n_frames:
        k = int(t * fps)
        closed[k:k + 2] = True
        t += 0.3 + rng.exponential(1.0 / max(rate, 1e-3))
    return closed


def face_box_of(style: FaceStyle, size: int, dx: float = 0.0, dy: float = 0.0, rot: float = 0.0,
                scale: float = 1.0) -> tuple[int, int, int, int]:
    """True face box (x, y, w, h) in output pixels: the skin oval's bounding box after head motion."""
    k = size / 128.0
    rx, ry = style.face_rx * k * scale, style.face_ry * k * scale
    c, s = math.cos(rot), math.sin(rot)
    hx = math.sqrt((rx * c) ** 2 + (ry * s) ** 2)
    hy = math.sqrt((rx * s) ** 2 + (ry * c) ** 2)
    cx, cy = style.cx * k + dx, style.cy * k + dy
    x0, y0 = int(round(cx - hx)), int(round(cy - hy))
    return x0, y0, int(round(cx + hx)) - x0, int(round(cy + hy)) - y0


def render_face_video(phones: list[Segment], words: list[Segment], duration: float,
                      style: FaceStyle, seed: int, fps: float = 25, size: int = 128,
                      dynamics: Optional[TalkerDynamics] = None, lip_lead_s: float = 0.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Render a talking face for one utterance.

    Returns ``frames`` uint8 [T, size, size] (grey) and ``face_boxes`` int64 [T, 4] (x, y, w, h):
    the bounding box of the skin oval (hairline-to-chin, cheek-to-cheek, ears excluded) after head
    motion, with T = round(duration * fps). ``phones`` are espeak mnemonics (stress marks stripped;
    unknown ones render a neutral mouth with a warning) with times in seconds; ``words`` give word
    onsets (a word-initial stop closes the lips from the word onset). Deterministic given the
    inputs and ``seed``; :func:`mouth_box` gives the mouth region inside a returned box.

    ``dynamics`` (a speaker's :class:`~avsr.corpora.synthetic.lip_motion.TalkerDynamics`) makes the
    lips lead the audio by ``lip_lead_s`` (plus per-phone scatter) with anticipatory
    coarticulation; None keeps the targets at the audio's phone centres. Everything else
    (head motion, lighting, blinks, noise) is the same either way.
    """
    n_frames = int(round(duration * fps))
    rng = np.random.default_rng(seed)
    g = _Geom(style, size)
    n = g.n
    if n_frames <= 0:
        return np.zeros((0, size, size), np.uint8), np.zeros((0, 4), np.int64)

    articulation = style.articulation * float(np.exp(rng.normal(0.0, 0.06)))
    # The dynamics draw from their own generator, so the draws below stay the same with and without.
    rng_dyn = np.random.default_rng([seed, 1]) if dynamics is not None else None
    params = mouth_trajectory(phones, words, duration, n_frames, fps, rng, articulation,
                              dynamics=dynamics, lead_s=lip_lead_s, rng_dyn=rng_dyn)

    # Static face: eyes open and (for blinks) closed; gaze fixed per utterance.
    gaze = float(rng.uniform(-0.4, 0.4))
    blinks = _blinks(rng, n_frames, fps, style.blink_rate)
    sigma = max(SUPERSAMPLE * style.blur, 0.9)
    bases_sharp, bases_blur = [], []
    for face in _static_face(style, g, gaze, (False, True) if blinks.any() else (False,), size):
        bases_sharp.append(face)
        bases_blur.append(cv2.GaussianBlur(face, (0, 0), sigma))

    # Mouth region of interest, with a margin for the blur.
    margin = int(math.ceil(3.0 * sigma)) + 1
    half_w = 1.6 * g.mouth_hw + margin      # widest spread mouth: 1.45 × rest half-width, plus lip edge
    x0 = int(max(0, g.mouth_x - half_w))
    x1 = int(min(n, g.mouth_x + half_w))
    y0 = int(max(0, g.mouth_y - 0.55 * g.mouth_hw - 2.0 * g.upper_lip - margin))
    chin = g.cy + g.ry
    y1 = int(min(n, max(g.mouth_y + 1.2 * g.mouth_hw + 2.0 * g.lower_lip, chin + 0.25 * g.ry) + margin))
    skin_local = float(np.median(bases_sharp[0][y0:int(g.mouth_y + 1.5 * g.lower_lip), x0:x1]))

    # Jaw drop: the chin follows the lower lip down. Rows below the lips shift by ``w(y)`` × drop,
    # w rising from 0 at the lip line to 1 under the lower lip and fading out below the chin.
    ry_, rx_ = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    lip_line = g.mouth_y + 1.5 * g.lower_lip
    w_jaw = np.clip((ry_ - g.mouth_y) / (lip_line - g.mouth_y), 0.0, 1.0)
    w_jaw *= np.clip(1.0 - (ry_ - chin) / (0.25 * g.ry), 0.0, 1.0)
    # Fade out towards the ROI sides (inside the pasted area) so the jaw line bends instead of stepping.
    inner = min(g.mouth_x - x0, x1 - g.mouth_x) - margin
    w_jaw *= np.clip((inner - np.abs(rx_ - g.mouth_x)) / (0.45 * inner), 0.0, 1.0)
    map_x = (rx_ - x0).astype(np.float32)
    map_y0 = (ry_ - y0).astype(np.float32)
    drops = style.jaw_gain * 0.65 * 0.85 * g.mouth_hw * np.clip(params[:, _P["open"]], 0.0, None)

    # Head motion (smooth): translation px, rotation rad, scale; all in output pixels.
    t = (np.arange(n_frames) + 0.5) / fps
    amp = style.motion
    dxs = amp * 1.2 * _smooth_noise(rng, t, 0.1, 0.8) * size / 128.0
    dys = amp * 0.9 * _smooth_noise(rng, t, 0.1, 0.8) * size / 128.0
    rots = amp * math.radians(1.8) * _smooth_noise(rng, t, 0.1, 0.6)
    scales = 1.0 + amp * 0.012 * _smooth_noise(rng, t, 0.05, 0.4)
    gains = 1.0 + style.flicker * (0.7 * _smooth_noise(rng, t, 0.2, 2.0) + 0.3 * rng.standard_normal(n_frames))

    frames = np.empty((n_frames, size, size), np.float32)
    boxes = np.empty((n_frames, 4), np.int64)
    cxs, cys = g.cx, g.cy
    inv = 1.0 / SUPERSAMPLE
    for i in range(n_frames):
        b = 1 if (blinks[i] and len(bases_sharp) > 1) else 0
        frame2x = bases_blur[b].copy()
        roi = bases_sharp[b][y0:y1, x0:x1]
        if drops[i] > 0.05:
            roi = cv2.remap(roi, map_x, map_y0 - np.float32(drops[i]) * w_jaw, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        else:
            roi = roi.copy()
        _draw_mouth(roi, x0, y0, g, style, params[i], skin_local)
        roi = cv2.GaussianBlur(roi, (0, 0), sigma)
        frame2x[y0 + margin:y1 - margin, x0 + margin:x1 - margin] = roi[margin:-margin, margin:-margin]
        # out = inv * (S R (p - c) + c + d), d given in output px.
        c, s_ = math.cos(rots[i]) * scales[i], math.sin(rots[i]) * scales[i]
        tx = cxs - (c * cxs - s_ * cys) + dxs[i] * SUPERSAMPLE
        ty = cys - (s_ * cxs + c * cys) + dys[i] * SUPERSAMPLE
        m = np.array([[c * inv, -s_ * inv, tx * inv], [s_ * inv, c * inv, ty * inv]], np.float64)
        frames[i] = cv2.warpAffine(frame2x, m, (size, size), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
        boxes[i] = face_box_of(style, size, dxs[i], dys[i], rots[i], scales[i])
    frames *= gains[:, None, None].astype(np.float32)
    frames += rng.standard_normal(frames.shape, dtype=np.float32) * np.float32(style.noise)
    np.clip(frames, 0.0, 255.0, out=frames)
    return np.rint(frames).astype(np.uint8), boxes


def mouth_box(face_box: Sequence[int]) -> tuple[int, int, int, int]:
    """Mouth region (x, y, w, h) inside a true face box from :func:`render_face_video`.

    The mouth centre sits at about 73 % of the box height (the oval spans forehead to chin), so the
    crop is the middle 60 % of the width and 32 % of the height centred there.
    """
    x, y, w, h = (int(v) for v in face_box)
    mw, mh = int(round(0.6 * w)), int(round(0.32 * h))
    mx, my = x + 0.5 * w, y + 0.73 * h
    return int(round(mx - 0.5 * mw)), int(round(my - 0.5 * mh)), mw, mh
