"""Helpers for the deployment tests (transcription, ONNX export, sherpa-onnx): tiny E2E experiment
directories with seeded random weights, written in the exact layout training writes.

Why random weights instead of a trained run: a trained run of stages 0-3 + E2E training takes
minutes, far over a test's budget. A seeded random model whose blank output is pushed down emits
a different, non-empty token string for every input, so equal hypotheses across torch,
onnxruntime and sherpa-onnx are a strict check of the feature and graph contract (any mismatch in
features, normalisation, padding or search changes them); a sanity check in each test makes sure
the hypotheses are neither empty nor all alike.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import yaml

TINY = {
    "frontend": {"fusion": "audio", "audio_channels": 8, "audio_dim": 32, "video_channels": 8, "video_dim": 32,
                 "output_dim": 32, "bilinear_rank": 16, "modality_dropout": 0.0, "dropout": 0.0, "utterance_cmn": True},
    "encoder": {"d_model": 32, "num_heads": 2, "ffn_dim": 64, "num_layers": 1, "kernel_size": 7, "dropout": 0.0},
}
CTC_PARTS = {"model": "ctc_attention", "decoder": {"num_layers": 1, "num_heads": 2, "ffn_dim": 64, "dropout": 0.0},
             "loss": {"ctc_weight": 0.3, "label_smoothing": 0.1}}
TRANSDUCER_PARTS = {"model": "transducer",
                    "transducer": {"predictor_dim": 32, "context_size": 2, "joiner_dim": 32, "ctc_weight": 0.2}}


def grid_bpe(path: Path) -> Path:
    """A sentencepiece BPE model over the GRID vocabulary (trained in well under a second)."""
    from avsr.corpora.grid.grammar import grid_vocabulary
    from avsr.e2e.tokens import train_bpe

    if not path.is_file():
        words = grid_vocabulary()
        train_bpe([" ".join(words[i:i + 6]) for i in range(0, len(words), 3)], path, vocab_size=64, extra_words=words)
    return path


def make_exp(root: Path, name: str, model: str = "transducer", fusion: str = "audio", seed: int = 0,
             blank_bias: float = -3.0, video_input: str = "pixels", bpe: Optional[Path] = None) -> Path:
    """``root/name``: config.yaml, tokens.txt, tokens/bpe.model, epoch-1.pt of a random model."""
    from avsr.e2e.tokens import BpeTokenizer
    from avsr.models.factory import build_model
    from avsr.train.checkpoint import save_checkpoint

    exp = root / name
    (exp / "tokens").mkdir(parents=True, exist_ok=True)
    bpe = grid_bpe(bpe or root / "bpe.model")
    (exp / "tokens" / "bpe.model").write_bytes(bpe.read_bytes())
    tok = BpeTokenizer(exp / "tokens" / "bpe.model")
    (exp / "tokens.txt").write_text("".join(f"{p} {i}\n" for i, p in enumerate(tok.pieces())))
    cfg = copy.deepcopy(TINY)
    cfg.update(copy.deepcopy(CTC_PARTS if model == "ctc_attention" else TRANSDUCER_PARTS))
    cfg["frontend"]["fusion"] = fusion
    cfg["frontend"]["video_input"] = video_input
    cfg["tokens"] = {"unit": "bpe", "bpe_vocab_size": 64}
    (exp / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    torch.manual_seed(seed)
    net = build_model(cfg, tok.vocab_size)
    with torch.no_grad():
        # plausible stage-3 statistics: int16-scaled log-mel energies
        vm, vs = (torch.zeros(64), torch.full((64,), 0.1)) if video_input == "dct" else (0.45, 0.2)
        net.frontend.set_normalisation(torch.full((80,), 8.0), torch.full((80,), 3.0), vm, vs)
        net.ctc_head.bias[0] += blank_bias
        net.ctc_head.bias[1] -= 20.0  # <sos/eos> never in a CTC path
        if model == "transducer":
            # a random joiner is dominated by its bias and the predictor: scaling the encoder
            # projection makes its output follow the audio, and this blank bias emits a token on
            # ~40 % of the frames (measured on GRID clips), as a trained model roughly does
            net.joiner.enc_proj.weight *= 6.0
            net.joiner.out.bias[0] = 1.5
            net.joiner.out.bias[1] -= 20.0
    save_checkpoint(exp / "epoch-1.pt", {"model": net.state_dict(), "epoch": 1})
    return exp


def speech_clips(out: Path, n: int, seed: int = 0) -> list[tuple[Path, str]]:
    """``n`` 16 kHz wavs of GRID sentences spoken by espeak-ng (a few ms each to synthesise)."""
    import random

    import soundfile as sf

    from avsr.corpora.grid.grammar import sample_sentence
    from avsr.corpora.synthetic.espeak_tts import VoiceSpec, synthesize

    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(n):
        words = list(sample_sentence(rng))
        text = " ".join(words)
        audio = synthesize(words, VoiceSpec(["en-us", "en", "en-gb-x-rp"][i % 3])).audio
        noise = np.random.default_rng(seed + i).normal(0, 0.003, len(audio)).astype(np.float32)
        path = out / f"utt{i:03d}.wav"
        sf.write(path, np.clip(audio + noise, -1, 1), 16000, subtype="PCM_16")
        clips.append((path, text))
    return clips


def grid_s1_dir() -> Path:
    """The 400 real GRID clips of speaker s1 (shared/fixtures/grid_s1), as conftest finds grid_sample."""
    import os

    import pytest

    here = Path(__file__).resolve()
    for candidate in (os.environ.get("AVSR_GRID_S1", ""), here.parents[2] / "shared" / "fixtures" / "grid_s1",
                      Path("/work/shared/fixtures/grid_s1")):
        if candidate and (Path(candidate) / "s1").is_dir():
            return Path(candidate) / "s1"
    pytest.fail("GRID s1 fixtures not found (set AVSR_GRID_S1)")


def grid_audio(n: int) -> list[tuple[str, np.ndarray]]:
    """16 kHz audio of the first ``n`` s1 clips (read from the .mpg, never written back)."""
    from avsr.video.io import read_audio_track

    files = sorted(grid_s1_dir().glob("*.mpg"))[:n]
    return [(f.stem, read_audio_track(f, 16000)) for f in files]


def sherpa_ids(result_tokens, pieces: list[str]) -> list[int]:
    """sherpa-onnx's token strings (BPE "▁" shown as a space) → our token ids."""
    index = {p: i for i, p in enumerate(pieces)}
    return [index[t] if t in index else index[t.replace(" ", "\u2581")] for t in result_tokens]


REPO = Path(__file__).resolve().parents[1]


def PYTHON_STEPS(script: str, *args: str, timeout: float = 300):
    """Run ``steps/<script>`` with one thread; returns the CompletedProcess."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "steps" / script), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


def build_hlg(exp: Path, out: Path) -> Path:
    """A GRID-grammar HLG over the experiment's BPE tokens (the recipe's own lang/LM/graph steps)."""
    lang, lm, graph = out / "lang", out / "lm", out / "hlg_grid"
    for script, *args in (
        ("prepare_lang.py", "--source", "bpe", "--lexicon", str(exp / "tokens" / "bpe.model"), "--sil-phone", "",
         "--unk-phone", "<unk>", "--phone-table", str(exp / "tokens.txt"), str(lang)),
        ("make_lm.py", "--kind", "grid", "--lang", str(lang), str(lm)),
        ("make_graph.py", "--lang", str(lang), "--lm", str(lm), "--kind", "hlg", "--model", str(exp), "--out", str(graph)),
    ):
        r = PYTHON_STEPS(script, *args)
        assert r.returncode == 0, (script, r.stderr[-2000:])
    return graph
