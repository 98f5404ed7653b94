"""Decode exported models with onnxruntime: our own small loop, for every fusion (sherpa-onnx takes
waveforms only, so it cannot run the audio-visual or video-only models).

The searches mirror the torch ones (:mod:`avsr.e2e.search_ctc`, :mod:`avsr.e2e.search_transducer`)
step for step, so on the same input they give the same hypotheses up to float rounding:

- CTC: greedy (best path), and HLG 1-best through our graph (the same FasterDecoder and options
  as :class:`avsr.e2e.hlg.HlgDecoder`);
- transducer: greedy (``max_sym_per_frame`` symbols per frame; 1 = sherpa-onnx's offline greedy
  search) and modified beam search (one symbol per frame, hypotheses merged by token sequence;
  ``length_norm`` picks the final hypothesis by score / length, as sherpa-onnx does).

Input features: stage-3 fbank (int16-scaled samples), converted to the export's convention
(:func:`avsr.deploy.export_onnx.sherpa_features`; a ``unit`` graph converts them back).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Union

import numpy as np

from avsr.deploy.export_onnx import sherpa_features
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


class OnnxE2E:
    """An export directory of :func:`avsr.deploy.export_onnx.export_model`, loaded in onnxruntime."""

    def __init__(self, onnx_dir: PathLike, num_threads: int = 1) -> None:
        import onnxruntime as ort

        self.dir = Path(onnx_dir)
        meta_path = self.dir / "export.json"
        if not meta_path.is_file():
            raise AvsrInputError(self.dir, "not an export directory (no export.json): run steps/export_onnx.py")
        self.meta = json.loads(meta_path.read_text())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = max(1, num_threads)

        def session(name: str):
            return ort.InferenceSession(str(self.dir / name), opts, providers=["CPUExecutionProvider"])

        self.head = self.meta["head"]
        self.inputs = list(self.meta["inputs"])
        if self.head == "ctc":
            self.encoder = session("model.onnx")
        else:
            self.encoder, self.decoder, self.joiner = session("encoder.onnx"), session("decoder.onnx"), session("joiner.onnx")
            meta = self.decoder.get_modelmeta().custom_metadata_map
            self.context_size = int(meta["context_size"])
        self.blank = 0

    def encode(self, fbank: Optional[np.ndarray], video: Optional[np.ndarray]) -> tuple[np.ndarray, int]:
        """One utterance: stage-3 fbank [T, 80] and/or video [Tv, ...] → (encoder output [T', D]
        (CTC: log-probs [T', V]), T')."""
        feed = {}
        if "x" in self.inputs:
            if fbank is None:
                raise AvsrInputError(None, "this model reads audio: no fbank given")
            feed["x"] = sherpa_features(fbank, self.meta.get("sample_scale", "unit"))[None]
            feed["x_lens"] = np.array([len(fbank)], np.int64)
        if "video" in self.inputs:
            if video is None:
                raise AvsrInputError(None, "this model reads video: no video given")
            feed["video"] = np.ascontiguousarray(video)[None]
            feed["video_lens"] = np.array([len(video)], np.int64)
        out, lens = self.encoder.run(None, feed)
        n = int(lens[0])
        return out[0, :n], n

    # ---------------------------------------------------------------- CTC
    def ctc_greedy(self, log_probs: np.ndarray) -> list[int]:
        best = log_probs.argmax(-1).tolist()
        out, prev = [], None
        for k in best:
            if k != prev and k != self.blank:
                out.append(int(k))
            prev = k
        return out

    # ---------------------------------------------------------------- transducer
    def _decoder_out(self, contexts: list[list[int]]) -> np.ndarray:
        return self.decoder.run(None, {"y": np.array(contexts, np.int64)})[0]

    def _joiner(self, enc: np.ndarray, dec: np.ndarray) -> np.ndarray:
        return self.joiner.run(None, {"encoder_out": np.ascontiguousarray(enc, np.float32),
                                      "decoder_out": np.ascontiguousarray(dec, np.float32)})[0]

    def _context(self, tokens: list[int]) -> list[int]:
        return ([-1] * (self.context_size - 1) + [self.blank] + tokens)[-self.context_size:]

    def greedy(self, enc: np.ndarray, max_sym_per_frame: int = 1) -> list[int]:
        tokens: list[int] = []
        dec = self._decoder_out([self._context(tokens)])
        for t in range(len(enc)):
            for _ in range(max_sym_per_frame):
                k = int(self._joiner(enc[t:t + 1], dec)[0].argmax())
                if k == self.blank:
                    break
                tokens.append(k)
                dec = self._decoder_out([self._context(tokens)])
        return tokens

    def modified_beam(self, enc: np.ndarray, beam: int = 4, length_norm: bool = False) -> list[tuple[list[int], float]]:
        """Hypotheses best first; with ``length_norm`` ordered by score / (tokens + context)."""
        hyps: dict[tuple[int, ...], float] = {(): 0.0}
        for t in range(len(enc)):
            keys = list(hyps)
            dec = self._decoder_out([self._context(list(k)) for k in keys])
            lp = _log_softmax(self._joiner(np.repeat(enc[t:t + 1], len(keys), 0), dec)).astype(np.float64)
            total = lp + np.array([hyps[k] for k in keys])[:, None]
            flat = total.reshape(-1)
            top = np.argsort(-flat, kind="stable")[: min(beam, flat.size)]
            vocab = lp.shape[1]
            new: dict[tuple[int, ...], float] = {}
            for idx in top.tolist():
                h, k = divmod(idx, vocab)
                key = keys[h] if k == self.blank else keys[h] + (k,)
                score = float(flat[idx])
                new[key] = float(np.logaddexp(new[key], score)) if key in new else score
            hyps = new
        if length_norm:
            order = sorted(hyps.items(), key=lambda kv: -kv[1] / (len(kv[0]) + self.context_size))
        else:
            order = sorted(hyps.items(), key=lambda kv: -kv[1])
        return [(list(k), s) for k, s in order]
