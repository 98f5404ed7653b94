"""A tiny AV corpus with a known A/V offset per clip, in the stage-3 contract (``features``,
custom ``mfcc``, ``mouth_roi``, ``roi_dct``), for the sync tests.

Each clip is a train of syllables (random onsets and lengths); the audio's log energy (MFCC C0)
and a per-syllable spectral pattern follow the syllable envelope, and the mouth crop shows a dark
ellipse whose height follows the same envelope and whose width depends on the syllable. A clip
with ``offset`` k has its video rendered from the envelope k frames earlier (the video lags).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

import numpy as np
from lhotse import CutSet, Features, LilcomChunkyWriter, NumpyHdf5Writer, SupervisionSegment
from lhotse.cut import MonoCut
from lhotse.utils import fastcopy


def _envelope(rng: np.random.Generator, tv: int) -> tuple[np.ndarray, np.ndarray]:
    """(envelope [tv] in [0, 1], syllable index per frame, -1 in silence) at 25 fps."""
    env = np.zeros(tv, np.float32)
    syl = np.full(tv, -1, np.int64)
    t, k = int(rng.integers(3, 8)), 0
    while t < tv - 6:
        n = int(rng.integers(3, 7))
        env[t : t + n] = np.sin(np.linspace(0.15, np.pi - 0.15, n)) * rng.uniform(0.6, 1.0)
        syl[t : t + n] = k
        k += 1
        t += n + int(rng.integers(1, 6))
    return env, syl


_GRID = np.mgrid[0:44, 0:44].astype(np.float32)


def _crop(opening: float, width: float, rng: np.random.Generator, size: int = 44) -> np.ndarray:
    yy, xx = _GRID
    c = size / 2
    h = 1.0 + 9.0 * opening
    inside = ((xx - c) / width) ** 2 + ((yy - c) / h) ** 2 <= 1.0
    img = np.full((size, size), 170.0, np.float32)
    img[inside] = 60.0
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_sync_cuts(out_dir: Path, corpus: str, sets: Mapping[str, int], offsets: Optional[Mapping[str, int]] = None,
                   seconds: float = 3.0, seed: int = 0, speakers: int = 3, noisy_copy_of: Optional[str] = None) -> dict[str, Path]:
    """Write ``out_dir/<corpus>_cuts_<set>.jsonl.gz`` (set name -> number of clips); ``offsets``:
    cut id -> true video lag in frames; ``noisy_copy_of``: also write ``<set>_noisy`` (the same
    clips, noisier MFCC/fbank, custom clean_cut_id, the same video arrays)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    offsets = dict(offsets or {})
    pat = np.random.default_rng(999)
    spectra = pat.normal(0, 1, (64, 23)).astype(np.float32)
    widths = pat.uniform(8, 18, 64).astype(np.float32)
    paths = {}
    tv = int(round(seconds * 25))
    for s_index, (name, n) in enumerate(sets.items()):
        rng = np.random.default_rng(seed * 1000 + s_index)
        cuts = []
        with NumpyHdf5Writer(out_dir / f"{corpus}_{name}.video.h5", mode="w") as vw, \
                LilcomChunkyWriter(out_dir / f"{corpus}_{name}.audio.lca", mode="w") as aw:
            for i in range(n):
                cut_id = f"{name}_{i:03d}"
                env, syl = _envelope(rng, tv)
                k = int(offsets.get(cut_id, 0))
                lag = np.clip(np.arange(tv) - k, 0, tv - 1)  # the video shows the envelope k frames late
                crops = np.stack([_crop(env[j], widths[syl[j] % 64] if syl[j] >= 0 else 12.0, rng) for j in lag])
                dct = crops.reshape(tv, -1)[:, :64].astype(np.float32) / 255.0
                env_a = np.repeat(env, 4)
                syl_a = np.repeat(syl, 4)
                mfcc = np.zeros((4 * tv, 24), np.float32)
                mfcc[:, 0] = 10.0 * env_a
                mfcc[:, 1:] = env_a[:, None] * spectra[syl_a % 64] * (syl_a[:, None] >= 0)
                mfcc += rng.normal(0, 0.3, mfcc.shape).astype(np.float32)
                fbank = np.repeat(mfcc[:, :1], 80, axis=1) + rng.normal(0, 0.3, (4 * tv, 80)).astype(np.float32)
                duration = tv * 0.04
                feats = Features(type="synthetic", num_frames=4 * tv, num_features=80, frame_shift=0.01, sampling_rate=16000,
                                 start=0.0, duration=duration, storage_type=aw.name, storage_path=str(aw.storage_path),
                                 storage_key=aw.write(f"{cut_id}/fbank", fbank), recording_id=cut_id, channels=0)
                cut = MonoCut(id=cut_id, start=0.0, duration=duration, channel=0, features=feats, recording=None,
                              supervisions=[SupervisionSegment(id=cut_id, recording_id=cut_id, start=0.0, duration=duration,
                                                               text="bin blue at a one now", speaker=f"spk{i % speakers}")])
                cut = cut.with_custom("mfcc", aw.store_array(f"{cut_id}/mfcc", mfcc, frame_shift=0.01, temporal_dim=0, start=0.0))
                cut = cut.with_custom("mouth_roi", vw.store_array(f"{cut_id}/roi", crops, frame_shift=0.04, temporal_dim=0, start=0.0))
                cut = cut.with_custom("roi_dct", vw.store_array(f"{cut_id}/dct", dct, frame_shift=0.04, temporal_dim=0, start=0.0))
                cuts.append(cut)
        paths[name] = out_dir / f"{corpus}_cuts_{name}.jsonl.gz"
        CutSet.from_cuts(cuts).to_file(paths[name])
        if name == noisy_copy_of:
            noisy = [fastcopy(c, id=f"{c.id}_noisy", custom=dict(c.custom, clean_cut_id=c.id)) for c in cuts]
            paths[f"{name}_noisy"] = out_dir / f"{corpus}_cuts_{name}_noisy.jsonl.gz"
            CutSet.from_cuts(noisy).to_file(paths[f"{name}_noisy"])
    return paths
