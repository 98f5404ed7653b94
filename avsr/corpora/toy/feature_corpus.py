"""A toy AV corpus in the stage-3 contract, made in a second: for tests and benchmarks of the
E2E training/decoding code without running stages 0-3.

Each GRID sentence becomes fbank frames whose mean depends on the word (a fixed random 80-d
pattern per word, plus noise) and mouth crops showing a fixed random 44x44 pattern per word, so
the task is learnable from either stream. Cuts carry the same fields as stage 3's
(``features``, custom ``mouth_roi`` temporal array at 25 fps, supervision text). With
``video=False`` the cuts are those of an audio-only corpus: the same fbank, no ``mouth_roi``.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Mapping, Union

import numpy as np
from lhotse import CutSet, Features, NumpyHdf5Writer, SupervisionSegment
from lhotse.cut import MonoCut

from avsr.corpora.grid.grammar import grid_vocabulary, sample_sentence

PathLike = Union[str, Path]


def make_synthetic_cuts(data_dir: PathLike, sizes: Mapping[str, int], corpus: str = "synthetic_grid", seed: int = 0,
                        frames_per_word: int = 24, crop: int = 44, noise: float = 0.5, video: bool = True) -> dict[str, Path]:
    """Write ``data_dir/fbank/<corpus>_cuts_<set>.jsonl.gz`` for each set name → size; returns the paths.
    ``video=False``: no mouth crops (the fbank and texts are identical to ``video=True``'s)."""
    data_dir = Path(data_dir)
    (data_dir / "fbank").mkdir(parents=True, exist_ok=True)
    words = grid_vocabulary()
    pat_rng = np.random.default_rng(1000 + seed)
    audio_pattern = {w: pat_rng.normal(0, 2, 80).astype(np.float32) for w in words}
    video_pattern = {w: pat_rng.integers(0, 256, (crop, crop)).astype(np.uint8) for w in words}
    rng_text = random.Random(seed)
    rng = np.random.default_rng(seed)
    paths = {}
    for set_index, (name, n) in enumerate(sizes.items()):
        cuts = []
        with NumpyHdf5Writer(data_dir / "fbank" / f"{corpus}_{name}.h5", mode="w") as writer:
            for i in range(n):
                sent = sample_sentence(rng_text)
                lead = int(rng.integers(4, 12))
                frames = [np.full((lead, 80), -1.0, np.float32)]
                for w in sent:
                    k = frames_per_word + int(rng.integers(-4, 5))
                    frames.append(np.repeat(audio_pattern[w][None], k, 0))
                tail = 4 * (-(sum(f.shape[0] for f in frames) + 8) // -4) - sum(f.shape[0] for f in frames)
                frames.append(np.full((tail, 80), -1.0, np.float32))
                fbank = np.concatenate(frames)
                fbank = fbank + noise * rng.standard_normal(fbank.shape).astype(np.float32)
                labels = np.concatenate([np.full(f.shape[0], -1 if j in (0, len(frames) - 1) else j - 1)
                                         for j, f in enumerate(frames)])
                cut_id = f"{name}_{i:04d}"
                duration = fbank.shape[0] * 0.01
                feats = Features(type="synthetic", num_frames=fbank.shape[0], num_features=80, frame_shift=0.01,
                                 sampling_rate=16000, start=0.0, duration=duration, storage_type=writer.name,
                                 storage_path=str(writer.storage_path), storage_key=writer.write(f"{cut_id}/fbank", fbank),
                                 recording_id=cut_id, channels=0)
                cut = MonoCut(id=cut_id, start=0.0, duration=duration, channel=0, features=feats, recording=None,
                              supervisions=[SupervisionSegment(id=cut_id, recording_id=cut_id, start=0.0,
                                                               duration=duration, text=" ".join(sent),
                                                               speaker=f"spk{set_index}")])
                if video:
                    tv = fbank.shape[0] // 4
                    roi = np.zeros((tv, crop, crop), np.uint8)
                    for t in range(tv):
                        lab = labels[4 * t]
                        roi[t] = 128 if lab < 0 else video_pattern[sent[lab]]
                    cut = cut.with_custom("mouth_roi", writer.store_array(f"{cut_id}/roi", roi, frame_shift=0.04,
                                                                          temporal_dim=0, start=0.0))
                cuts.append(cut)
        path = data_dir / "fbank" / f"{corpus}_cuts_{name}.jsonl.gz"
        CutSet.from_cuts(cuts).to_file(path)
        paths[name] = path
    return paths
