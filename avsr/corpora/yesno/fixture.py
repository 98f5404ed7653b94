"""A tiny yes/no corpus in the style of Kaldi's and icefall's ``yesno`` recipe, spoken by espeak-ng.

The original corpus (openslr.org/1) is 60 wavs of one man saying eight words, each "yes" or
"no", named by their transcript: ``0_1_0_0_1_0_1_1.wav`` (0 = "no", 1 = "yes"), 8 kHz. This
generator writes the same kind of folder: ``num_clips`` distinct 8-word sequences, each word
synthesised on its own (rate and pitch jittered per word) and separated by pauses, a little
background noise, 8 kHz mono PCM16 by default. A few espeak voices take turns, but the names
carry no speaker, as in the original.

Determinism: espeak-ng keeps a little state across calls (see :mod:`avsr.corpora.synthetic.espeak_tts`), so
the synthesis runs in a fresh process: the same arguments give bit-identical files.
"""
from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from avsr.utils.io import atomic_path, write_json_atomic

PathLike = Union[str, Path]
DIGIT_WORDS = {"0": "no", "1": "yes"}
DEFAULT_VOICES: tuple[str, ...] = ("en-us+m1", "en-us+f3", "en-gb-x-rp+m3", "en-gb-scotland+f2")
TTS_SAMPLING_RATE = 16000  # what avsr.corpora.synthetic.espeak_tts returns


@dataclass(frozen=True)
class YesNoFixtureConfig:
    """What to generate: ``naming`` "digits" (``0_1_...wav``) or "words" (``no_yes_...wav``)."""

    num_clips: int = 60
    words_per_clip: int = 8
    sampling_rate: int = 8000
    voices: tuple[str, ...] = DEFAULT_VOICES
    naming: str = "digits"
    seed: int = 0


def clip_sequences(num_clips: int, words_per_clip: int, seed: int) -> list[tuple[int, ...]]:
    """``num_clips`` distinct 0/1 sequences (distinct, since the file name is the transcript)."""
    if num_clips > 2**words_per_clip:
        raise ValueError(f"only {2 ** words_per_clip} distinct {words_per_clip}-word clips exist, asked for {num_clips}")
    rng = np.random.default_rng(seed)
    codes = sorted(int(c) for c in rng.choice(2**words_per_clip, size=num_clips, replace=False))
    return [tuple((code >> (words_per_clip - 1 - k)) & 1 for k in range(words_per_clip)) for code in codes]


def clip_name(bits: Sequence[int], naming: str) -> str:
    if naming == "digits":
        return "_".join(str(b) for b in bits)
    if naming == "words":
        return "_".join(DIGIT_WORDS[str(b)] for b in bits)
    raise ValueError(f"naming must be 'digits' or 'words', not {naming!r}")


def _synthesise_clip(bits: Sequence[int], voice: str, rng: np.random.Generator, sampling_rate: int) -> np.ndarray:
    from avsr.corpora.synthetic.espeak_tts import VoiceSpec, synthesize  # loads libespeak-ng: only in the worker

    sr = TTS_SAMPLING_RATE
    pieces = [np.zeros(int(rng.uniform(0.2, 0.4) * sr), np.float32)]
    for k, bit in enumerate(bits):
        spec = VoiceSpec(voice, rate=int(rng.integers(140, 200)), pitch=int(rng.integers(30, 70)))
        pieces.append(synthesize([DIGIT_WORDS[str(bit)]], spec).audio)
        gap = rng.uniform(0.15, 0.35) if k < len(bits) - 1 else rng.uniform(0.2, 0.4)
        pieces.append(np.zeros(int(gap * sr), np.float32))
    audio = np.concatenate(pieces)
    audio = 0.5 * audio / max(float(np.abs(audio).max()), 1e-6)
    audio = audio + 0.002 * rng.standard_normal(len(audio)).astype(np.float32)  # a quiet room, not digital silence
    if sampling_rate != sr:
        g = np.gcd(sampling_rate, sr)
        audio = resample_poly(audio, sampling_rate // g, sr // g)
    return np.clip(audio, -1.0, 1.0)


def _generate(out_dir: str, config: YesNoFixtureConfig) -> list[str]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for i, bits in enumerate(clip_sequences(config.num_clips, config.words_per_clip, config.seed)):
        rng = np.random.default_rng([config.seed, i])
        audio = _synthesise_clip(bits, config.voices[i % len(config.voices)], rng, config.sampling_rate)
        name = clip_name(bits, config.naming) + ".wav"
        with atomic_path(out / name) as tmp:
            sf.write(str(tmp), audio, config.sampling_rate, subtype="PCM_16", format="WAV")
        names.append(name)
    return names


def generate_yesno_fixture(out_dir: PathLike, config: YesNoFixtureConfig = YesNoFixtureConfig()) -> list[Path]:
    """Write the clips into ``out_dir`` (plus ``fixture.json`` with the config); returns the wav paths.

    Synthesis runs in a fresh process so the output does not depend on what this process
    synthesised before (bit-identical for the same config)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        names = pool.submit(_generate, str(out_dir), config).result()
    write_json_atomic(Path(out_dir) / "fixture.json", {**asdict(config), "num_files": len(names)})
    return [Path(out_dir) / n for n in names]


def main() -> None:
    """CLI: ``python -m avsr.corpora.yesno.fixture OUT_DIR [--num-clips N] [--sampling-rate SR] ...``."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--num-clips", type=int, default=60)
    p.add_argument("--words-per-clip", type=int, default=8)
    p.add_argument("--sampling-rate", type=int, default=8000)
    p.add_argument("--naming", choices=["digits", "words"], default="digits")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    cfg = YesNoFixtureConfig(args.num_clips, args.words_per_clip, args.sampling_rate, DEFAULT_VOICES, args.naming, args.seed)
    paths = generate_yesno_fixture(args.out_dir, cfg)
    print(json.dumps({"out_dir": str(args.out_dir), "num_files": len(paths)}))


if __name__ == "__main__":
    main()
