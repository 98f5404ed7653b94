"""Kaldi-compatible audio features (kaldi-native-fbank): 80-dim log-mel fbank and 24-dim MFCC.

Audio is scaled to the int16 range before extraction, as Kaldi's tools see it, so the
numbers match `compute-fbank-feats` / `compute-mfcc-feats`. Dither is off: the same
audio always gives the same features. The fbank's mel range is 20 Hz to Nyquist - 400 Hz, the
convention of lhotse, icefall and sherpa-onnx (whose feature extractor an exported model meets;
the E2E front-end removes each utterance's mean, so the int16 scaling, a constant offset of the
log energies, does not matter there).
"""
from __future__ import annotations

from dataclasses import dataclass

import kaldi_native_fbank as knf
import numpy as np

FRAME_SHIFT = 0.01  # seconds
INT16_SCALE = 32768.0


@dataclass(frozen=True)
class AudioFeatureConfig:
    num_mel_bins: int = 80  # fbank
    fbank_low_freq: float = 20.0
    fbank_high_freq: float = -400.0  # <= 0: offset from Nyquist
    num_ceps: int = 24  # MFCC (seed paper: 24)
    mfcc_mel_bins: int = 40
    sampling_rate: int = 16000
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0


def _frame_opts(opts, cfg: AudioFeatureConfig) -> None:
    opts.frame_opts.samp_freq = cfg.sampling_rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.frame_length_ms = cfg.frame_length_ms
    opts.frame_opts.frame_shift_ms = cfg.frame_shift_ms
    opts.frame_opts.snip_edges = False  # frames centred every 10 ms: T = round(duration / 0.01)


def _run(computer, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
    computer.accept_waveform(sampling_rate, (np.asarray(samples, dtype=np.float32).reshape(-1) * INT16_SCALE))
    computer.input_finished()
    n = computer.num_frames_ready
    if n == 0:
        raise ValueError("audio too short for one feature frame")
    return np.stack([computer.get_frame(i) for i in range(n)]).astype(np.float32)


def compute_fbank(samples: np.ndarray, cfg: AudioFeatureConfig = AudioFeatureConfig()) -> np.ndarray:
    """Log-mel filterbank [T, num_mel_bins] of mono float samples in [-1, 1]."""
    opts = knf.FbankOptions()
    _frame_opts(opts, cfg)
    opts.mel_opts.num_bins = cfg.num_mel_bins
    opts.mel_opts.low_freq = cfg.fbank_low_freq
    opts.mel_opts.high_freq = cfg.fbank_high_freq
    return _run(knf.OnlineFbank(opts), samples, cfg.sampling_rate)


def compute_mfcc(samples: np.ndarray, cfg: AudioFeatureConfig = AudioFeatureConfig()) -> np.ndarray:
    """MFCC [T, num_ceps] (C0 replaced by log energy, Kaldi's default) of mono float samples."""
    opts = knf.MfccOptions()
    _frame_opts(opts, cfg)
    opts.mel_opts.num_bins = cfg.mfcc_mel_bins
    opts.num_ceps = cfg.num_ceps
    return _run(knf.OnlineMfcc(opts), samples, cfg.sampling_rate)
