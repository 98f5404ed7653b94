"""Export the E2E models to ONNX in the layout sherpa-onnx's OfflineRecognizer reads.

Transducer → ``encoder.onnx``, ``decoder.onnx``, ``joiner.onnx`` (icefall's split: the encoder
and decoder outputs are already projected to the joiner dimension, the joiner adds them and
applies tanh and the output layer); CTC (the CTC head of a CTC+attention model, or of a
transducer trained with the auxiliary CTC loss) → ``model.onnx``. Plus ``tokens.txt`` (the exp
dir's: ``<blk>`` = 0), and for a CTC export with ``hlg_dir`` the graph (``HLG.fst``, ``words.txt``)
for sherpa-onnx's CTC FST decoding (``ctc_graph``).

The contract (read from the sherpa-onnx sources; checked by tests/test_onnx_export.py):

- encoder / model inputs ``x`` float32 [N, T, 80] fbank and ``x_lens`` int64 [N]; outputs
  ``encoder_out`` [N, T', J] / ``encoder_out_lens`` [N], or ``log_probs`` [N, T', V] (static V:
  sherpa reads the vocabulary size from this shape) / ``log_probs_len`` [N]. T' = ceil(T / 4):
  sherpa-onnx assumes a subsampling factor of 4 (10 ms × 4 = 40 ms per output frame), ours;
- decoder input ``y`` int64 [N, context_size] (the last tokens; the start context is
  ``[-1, ..., -1, 0]``, which our stateless predictor reads as "no token" then blank), output
  ``decoder_out`` [N, J]; joiner inputs ``encoder_out`` [N, J], ``decoder_out`` [N, J], output
  ``logit`` [N, V];
- metadata: encoder ``model_type`` (``conformer``: the key sherpa-onnx routes icefall-style
  transducers by), decoder ``vocab_size`` and ``context_size`` (required), joiner ``joiner_dim``;
  CTC ``model_type`` = ``zipformer2_ctc`` (the routing key of icefall-style ``x, x_lens →
  log_probs, log_probs_len`` CTC models; not a claim about the architecture, which
  ``avsr_architecture`` names) and ``vocab_size``;
- features: sherpa-onnx computes kaldi-native-fbank with dither 0, snip_edges false, 80 bins from
  20 Hz to Nyquist − 400 Hz (stage 3's options) but, by default (``normalize_samples``), on
  samples in [-1, 1], while stage 3 scales them to the int16 range. That subtracts
  ln(32768²) = 20.79 from every log-mel energy, except where a band's energy in [-1, 1] units is
  below float epsilon: there sherpa-onnx's value is clamped at ln(eps) = -15.94 (in practice the
  20-60 Hz band of very quiet frames: 0.02 % of the values of GRID recordings, but ~10 % of the
  embedded corpus's near-digital silence, where it changed 25 % of the CTC hypotheses of a
  trained model). ``sample_scale="int16"`` makes ``x`` stage 3's features exactly (bit-exact
  agreement: feed sherpa-onnx samples × 32768, or set ``normalize_samples=False``); it is the
  default for models with per-utterance mean removal (the recipe's configs), where float samples
  in [-1, 1] also work (the constant cancels; only clamped values differ), and for the AV / video
  exports, which only our own loop runs. ``sample_scale="unit"`` makes ``x`` sherpa-onnx's default
  features and the graph adds the 20.79 back (default for an audio-only model without
  per-utterance mean removal). Everything else the model does to its input (global CMVN
  buffers, per-utterance mean removal) is inside the model's forward and so inside the graph.
  :func:`sherpa_features` computes ``x`` from stage-3 fbank for our onnxruntime loop.

Audio-visual (and video-only) models export too, with inputs ``video`` (uint8 [N, Tv, S, S]
mouth crops at 25 fps, or float32 [N, Tv, K] ROI DCT coefficients for ``video_input: dct``
models) and ``video_lens`` int64 [N]; sherpa-onnx cannot run them (it feeds
waveform features only): :mod:`avsr.deploy.onnx_decode` does. ``drop`` exports an AV model with
one stream removed (the model's learned missing-stream embedding), e.g. for clips without a face.

Export uses torch's TorchScript-based exporter (``dynamo=False``: the torch.export-based one
needs onnxscript, which is not installed); the exported graphs are checked against torch on a
padded batch before the directory is written (atomically).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

from avsr.models.e2e_base import Batch
from avsr.models.transducer import TransducerModel
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_dir, write_json_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)
SAMPLE_SCALE_OFFSET = 2.0 * math.log(32768.0)  # log-mel energy of int16-scaled minus [-1, 1] samples
OPSET = 17
TOLERANCE = 1e-3  # max |onnxruntime - torch| accepted on the check batch


SAMPLE_SCALES = ("unit", "int16")


def offset_of(sample_scale: str) -> float:
    if sample_scale not in SAMPLE_SCALES:
        raise AvsrInputError(None, f"sample_scale must be one of {SAMPLE_SCALES}, got {sample_scale!r}")
    return SAMPLE_SCALE_OFFSET if sample_scale == "unit" else 0.0


def default_sample_scale(cfg: dict, drop: Optional[str] = None) -> str:
    """``int16`` for models that remove each utterance's mean (the constant ln(32768²) between the
    conventions cancels there, so float samples work too, and int16-range samples are exact) and
    for models sherpa-onnx cannot run (AV, video); ``unit`` for an audio-only model without it."""
    audio_only = cfg["frontend"]["fusion"] == "audio" or drop == "video"
    return "unit" if audio_only and not cfg["frontend"].get("utterance_cmn", False) else "int16"


def sherpa_features(fbank: np.ndarray, sample_scale: str = "unit") -> np.ndarray:
    """Stage-3 fbank (int16-scaled samples) → the graph input ``x`` of an export with this
    sample scale (``unit``: sherpa-onnx's default features, without its floor clamp)."""
    return (np.asarray(fbank, np.float32) - np.float32(offset_of(sample_scale))).astype(np.float32)


def input_names(fusion: str, drop: Optional[str] = None) -> list[str]:
    """Graph inputs of an encoder: audio ``x, x_lens`` and/or video ``video, video_lens``."""
    uses_audio = fusion != "video" and drop != "audio"
    uses_video = fusion != "audio" and drop != "video"
    return (["x", "x_lens"] if uses_audio else []) + (["video", "video_lens"] if uses_video else [])


class EncoderGraph(nn.Module):
    """The model's own ``encode`` (front-end normalisation included) behind named graph inputs."""

    def __init__(self, model: nn.Module, head: str, names: Sequence[str], drop: Optional[str], offset: float) -> None:
        super().__init__()
        self.model, self.head, self.names, self.drop, self.offset = model, head, list(names), drop, offset

    def forward(self, *inputs: Tensor) -> tuple[Tensor, Tensor]:
        got = dict(zip(self.names, inputs))
        ref = got.get("x", got.get("video"))
        n = ref.shape[0]
        empty_audio = torch.zeros(n, 0, 80)
        empty_video = torch.zeros(n, 0, 1, dtype=torch.uint8)  # never read: the model does not use this stream
        zeros = torch.zeros(n, dtype=torch.int64)
        audio = (got["x"] + self.offset if self.offset else got["x"]) if "x" in got else empty_audio
        batch = Batch([], audio, got.get("x_lens", zeros), got.get("video", empty_video), got.get("video_lens", zeros))
        enc, lengths = self.model.encode(batch, drop=self.drop)
        if self.head == "ctc":
            return self.model.ctc_log_probs(enc), lengths
        return self.model.joiner.enc_proj(enc), lengths


class TraceableSelfAttention(nn.Module):
    """Batch-first self-attention with the weights of an ``nn.MultiheadAttention``, written with
    shape-agnostic reshapes: torch's own module, traced, bakes the trace-time batch and length
    into its reshapes (the graph then fails on any other shape)."""

    def __init__(self, mha: nn.MultiheadAttention) -> None:
        super().__init__()
        self.mha = mha

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor] = None,
                need_weights: bool = False) -> tuple[Tensor, None]:
        m = self.mha
        h = m.num_heads
        d = query.shape[-1]
        q, k, v = nn.functional.linear(query, m.in_proj_weight, m.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (x.unflatten(-1, (h, d // h)).transpose(1, 2) for x in (q, k, v))  # [B, H, T, d/H]
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d // h)
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        out = torch.matmul(scores.softmax(dim=-1), v).transpose(1, 2).flatten(2)
        return m.out_proj(out), None


def traceable_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose self-attention modules are :class:`TraceableSelfAttention`."""
    import copy

    from avsr.models.conformer import ConformerBlock

    clone = copy.deepcopy(model).eval()
    for block in clone.modules():
        if isinstance(block, ConformerBlock) and isinstance(block.attention, nn.MultiheadAttention):
            if not block.attention.batch_first or not block.attention._qkv_same_embed_dim:
                raise ValueError("conformer attention must be batch-first with one in-projection")
            block.attention = TraceableSelfAttention(block.attention)
    return clone


class DecoderGraph(nn.Module):
    """Stateless predictor on the last ``context_size`` tokens → projected ``decoder_out``."""

    def __init__(self, model: TransducerModel) -> None:
        super().__init__()
        self.predictor, self.proj = model.predictor, model.joiner.pred_proj

    def forward(self, y: Tensor) -> Tensor:
        return self.proj(self.predictor(y, left_padded=True)[:, -1])


class JoinerGraph(nn.Module):
    def __init__(self, model: TransducerModel) -> None:
        super().__init__()
        self.joiner = model.joiner

    def forward(self, encoder_out: Tensor, decoder_out: Tensor) -> Tensor:
        return self.joiner(encoder_out, decoder_out, projected=True)


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, int]  # file -> bytes
    max_abs_diff: dict[str, float]  # graph -> onnxruntime vs torch on the check batch
    meta: dict[str, Any]


def video_shape(frontend_cfg: dict) -> tuple[tuple[int, ...], Any]:
    """Per-frame shape and numpy dtype of the ``video`` input: crops (S, S) uint8 or DCT (K,) float32."""
    if frontend_cfg.get("video_input", "pixels") == "dct":
        return (int(frontend_cfg.get("video_dct_dim", 64)),), np.float32
    return (44, 44), np.uint8


def check_batch(fusion: str, drop: Optional[str], frontend_cfg: dict, seed: int = 0,
                lens: Sequence[int] = (203, 141)) -> dict[str, np.ndarray]:
    """A padded batch of utterances of different lengths (sherpa-style features, video)."""
    rng = np.random.default_rng(seed)
    lens = np.array(lens, np.int64)
    shape, dtype = video_shape(frontend_cfg)
    tv = int(-(-lens.max() // 4))
    n = len(lens)
    video = (rng.integers(0, 256, (n, tv) + shape, dtype=np.uint8) if dtype == np.uint8
             else rng.normal(0.0, 1.0, (n, tv) + shape).astype(np.float32))
    feed = {"x": rng.normal(-8.0, 3.0, (n, int(lens.max()), 80)).astype(np.float32), "x_lens": lens,
            "video": video, "video_lens": -(-lens // 4)}
    return {k: feed[k] for k in input_names(fusion, drop)}


@contextlib.contextmanager
def _traceable_bool_full() -> Iterator[None]:
    """During tracing, ``torch.full(size, <python bool>, dtype=torch.bool)`` (the AV front-end's
    stream-presence flags) trips an internal assert of torch 2.13's tracer (no ``aten::full``
    overload for a bool fill); the same tensor made from an int fill traces fine."""
    real = torch.full

    def full(size, fill_value, *args, dtype=None, **kwargs):
        if dtype is torch.bool and isinstance(fill_value, bool):
            return real(size, int(fill_value), *args, dtype=torch.int64, **kwargs).bool()
        return real(size, fill_value, *args, dtype=dtype, **kwargs)

    torch.full = full
    try:
        yield
    finally:
        torch.full = real


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: dict) -> None:
    import warnings

    with warnings.catch_warnings(), _traceable_bool_full():  # the exporter's deprecation notice and tracer warnings
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET, dynamo=False, do_constant_folding=True)


def _add_metadata(path: Path, meta: dict[str, Any]) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = str(k), str(v)
    onnx.save(model, str(path))


def _max_diff(path: Path, feed: dict[str, np.ndarray], expected: Sequence[np.ndarray], valid: Optional[np.ndarray] = None) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, feed)
    worst = 0.0
    for g, e in zip(got, expected):
        g, e = np.asarray(g, np.float64), np.asarray(e, np.float64)
        if g.shape != e.shape:
            raise AvsrInputError(path, f"onnxruntime output shape {g.shape} != torch {e.shape}")
        if valid is not None and g.ndim == 3:
            g, e = g[valid], e[valid]
        worst = max(worst, float(np.abs(g - e).max()) if g.size else 0.0)
    return worst


def _valid_mask(lengths: np.ndarray, t: int) -> np.ndarray:
    return np.arange(t)[None, :] < lengths[:, None]


def export_model(exp_dir: PathLike, out_dir: PathLike, head: Optional[str] = None, epoch: Optional[int] = None,
                 avg: int = 1, drop: Optional[str] = None, hlg_dir: Optional[PathLike] = None,
                 sample_scale: Optional[str] = None) -> ExportResult:
    """Export an E2E experiment (weights of epochs epoch−avg+1..epoch averaged) to ``out_dir``.

    ``head``: ``transducer`` (encoder/decoder/joiner) or ``ctc`` (model.onnx); default: the
    model's own kind (CTC for a CTC+attention model). ``sample_scale``: the convention of ``x``
    (see the module doc and :func:`default_sample_scale`)."""
    from avsr.e2e.decode import load_e2e_model

    exp_dir, out_dir = Path(exp_dir), Path(out_dir)
    model, cfg, tokenizer, epoch = load_e2e_model(exp_dir, epoch, avg, "cpu")
    is_transducer = isinstance(model, TransducerModel)
    head = head or ("transducer" if is_transducer else "ctc")
    if head == "transducer" and not is_transducer:
        raise AvsrInputError(exp_dir, "a CTC+attention model has no transducer head: export with head 'ctc'")
    if head not in ("ctc", "transducer"):
        raise AvsrInputError(None, f"head must be ctc or transducer, got {head!r}")
    fusion = cfg["frontend"]["fusion"]
    if drop is not None and fusion in ("audio", "video"):
        raise AvsrInputError(exp_dir, f"a {fusion}-only model has no stream to drop")
    names = input_names(fusion, drop)
    sample_scale = sample_scale or default_sample_scale(cfg, drop)
    offset = offset_of(sample_scale)
    trace_feed = check_batch(fusion, drop, cfg["frontend"])
    # checked on other shapes than the trace's: a batch of 3 (one longer than any traced) and a single utterance
    checks = [check_batch(fusion, drop, cfg["frontend"], 1, (97, 331, 12)), check_batch(fusion, drop, cfg["frontend"], 2, (77,))]
    torch_model = model
    model = traceable_copy(model)
    encoder = EncoderGraph(model, head, names, drop, offset).eval()
    reference = EncoderGraph(torch_model, head, names, drop, offset).eval()
    args = tuple(torch.from_numpy(trace_feed[n]) for n in names)
    dynamic = {"x": {0: "N", 1: "T"}, "x_lens": {0: "N"}, "video": {0: "N", 1: "Tv"}, "video_lens": {0: "N"}}
    base_meta = {"version": "1", "model_author": "avsr", "avsr_architecture": f"{cfg['model']} conformer",
                 "avsr_fusion": fusion, "avsr_drop": drop or "", "avsr_inputs": ",".join(names),
                 "avsr_video_input": cfg["frontend"].get("video_input", "pixels"),
                 "avsr_units": tokenizer.unit, "avsr_exp_dir": str(exp_dir), "avsr_epoch": epoch, "avsr_avg": avg,
                 "feature_normalize_samples": int(sample_scale == "unit"), "avsr_sample_scale": sample_scale, "frame_shift_ms": 10, "subsampling_factor": 4, "video_fps": 25,
                 "vocab_size": tokenizer.vocab_size,
                 "comment": ("x = kaldi-native-fbank 80 of samples in [-1, 1] (sherpa-onnx's default); the graph adds "
                             "ln(32768^2)" if sample_scale == "unit" else "x = kaldi-native-fbank 80 of int16-range samples "
                             "(sherpa-onnx: normalize_samples=False, or samples x 32768)") + "; the model's normalisation is inside"}
    diffs: dict[str, float] = {}
    with torch.no_grad():
        expected = [t.numpy() for t in reference(*args)]  # the model as trained (torch's attention)
        check_expected = [[t.numpy() for t in reference(*(torch.from_numpy(f[n]) for n in names))] for f in checks]

    def encoder_diff(path: Path) -> float:
        worst = 0.0
        for f, e in zip(checks, check_expected):
            worst = max(worst, _max_diff(path, f, e, _valid_mask(e[1], e[0].shape[1])))
        return worst

    with atomic_dir(out_dir) as tmp:
        if head == "ctc":
            path = tmp / "model.onnx"
            _export(encoder, args, path, names, ["log_probs", "log_probs_len"],
                    {**{k: v for k, v in dynamic.items() if k in names}, "log_probs": {0: "N", 1: "T_out"},
                     "log_probs_len": {0: "N"}})
            _add_metadata(path, dict(base_meta, model_type="zipformer2_ctc"))
            diffs["model"] = encoder_diff(path)
        else:
            path = tmp / "encoder.onnx"
            _export(encoder, args, path, names, ["encoder_out", "encoder_out_lens"],
                    {**{k: v for k, v in dynamic.items() if k in names}, "encoder_out": {0: "N", 1: "T_out"},
                     "encoder_out_lens": {0: "N"}})
            _add_metadata(path, dict(base_meta, model_type="conformer"))
            diffs["encoder"] = encoder_diff(path)
            c = model.cfg.context_size
            y = torch.tensor([[-1] * (c - 1) + [0], list(range(2, 2 + c))], dtype=torch.int64)
            decoder = DecoderGraph(model).eval()
            with torch.no_grad():
                dec_out = decoder(y)
            _export(decoder, (y,), tmp / "decoder.onnx", ["y"], ["decoder_out"], {"y": {0: "N"}, "decoder_out": {0: "N"}})
            _add_metadata(tmp / "decoder.onnx", {"vocab_size": tokenizer.vocab_size, "context_size": c,
                                                 "model_author": "avsr"})
            y3 = torch.tensor([[-1] * (c - 1) + [0], list(range(3, 3 + c)), [5] * c], dtype=torch.int64)
            with torch.no_grad():
                dec3 = decoder(y3)
            diffs["decoder"] = _max_diff(tmp / "decoder.onnx", {"y": y3.numpy()}, [dec3.numpy()])
            joiner = JoinerGraph(model).eval()
            enc_frames = torch.from_numpy(expected[0][0, :2].copy())
            with torch.no_grad():
                logit = joiner(enc_frames, dec_out)
            _export(joiner, (enc_frames, dec_out), tmp / "joiner.onnx", ["encoder_out", "decoder_out"], ["logit"],
                    {"encoder_out": {0: "N"}, "decoder_out": {0: "N"}, "logit": {0: "N"}})
            _add_metadata(tmp / "joiner.onnx", {"joiner_dim": model.cfg.joiner_dim, "model_author": "avsr"})
            enc3 = torch.from_numpy(expected[0][0, :3].copy())
            with torch.no_grad():
                logit3 = joiner(enc3, dec3)
            diffs["joiner"] = _max_diff(tmp / "joiner.onnx", {"encoder_out": enc3.numpy(), "decoder_out": dec3.numpy()},
                                        [logit3.numpy()])
        bad = {k: v for k, v in diffs.items() if not v <= TOLERANCE}
        if bad:
            raise AvsrInputError(exp_dir, f"exported graphs disagree with torch (max |diff| {bad}, tolerance {TOLERANCE})")
        shutil.copyfile(exp_dir / "tokens.txt", tmp / "tokens.txt")
        if hlg_dir is not None:
            if head != "ctc":
                raise AvsrInputError(hlg_dir, "an HLG graph goes with a CTC export (head 'ctc')")
            copy_hlg(hlg_dir, tokenizer, tmp)
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir())}
        meta = {"exp_dir": str(exp_dir), "epoch": epoch, "avg": avg, "head": head, "fusion": fusion, "drop": drop,
                "sample_scale": sample_scale, "video_input": cfg["frontend"].get("video_input", "pixels"),
                "inputs": names, "units": tokenizer.unit, "vocab_size": tokenizer.vocab_size, "opset": OPSET,
                "torch": torch.__version__, "max_abs_diff_vs_torch": diffs, "files": files,
                "sha256": {n: hashlib.sha256((tmp / n).read_bytes()).hexdigest() for n in files},
                "hlg_dir": str(hlg_dir) if hlg_dir else None, "config": cfg}
        write_json_atomic(tmp / "export.json", meta)
    log.info("exported %s (%s head, %s) to %s: %s; max |onnx - torch| %s", exp_dir, head, fusion, out_dir,
             ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in files.items()), diffs)
    return ExportResult(out_dir, files, diffs, meta)


def copy_hlg(hlg_dir: PathLike, tokenizer, dest: Path) -> None:
    """Copy ``HLG.fst`` and ``words.txt`` of a graph dir whose token ids are exactly the model's
    (sherpa-onnx reads column ``ilabel − 1`` of ``log_probs`` directly: no remapping possible)."""
    from avsr.lang.symbols import read_symbol_table

    hlg_dir = Path(hlg_dir)
    for name in ("HLG.fst", "words.txt", "tokens.txt"):
        if not (hlg_dir / name).is_file():
            raise AvsrInputError(hlg_dir / name, "missing: need a graph dir from steps/make_graph.py --kind hlg")
    pieces = tokenizer.pieces()
    wrong = [sym for sym, i in read_symbol_table(hlg_dir / "tokens.txt")
             if sym != "<eps>" and not sym.startswith("#") and (i >= len(pieces) or pieces[i] != sym)]
    if wrong:
        raise AvsrInputError(hlg_dir, f"graph tokens {wrong[:5]} do not have the model's ids (build the lang with "
                             "--phone-table <exp>/tokens.txt)")
    build = hlg_dir / "build.json"
    if build.is_file() and json.loads(build.read_text()).get("column_map"):
        raise AvsrInputError(hlg_dir, "graph has a column map: sherpa-onnx needs graph label k = model column k - 1")
    if (hlg_dir / "columns.int").is_file():
        raise AvsrInputError(hlg_dir, "graph has a column map (columns.int): sherpa-onnx needs label k = column k - 1")
    shutil.copyfile(hlg_dir / "HLG.fst", dest / "HLG.fst")
    shutil.copyfile(hlg_dir / "words.txt", dest / "words.txt")
