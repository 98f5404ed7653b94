#!/usr/bin/env python3
"""Decoding speed and agreement: torch vs onnxruntime (our loop) vs sherpa-onnx, per method.

Exports the given E2E systems (steps/export_onnx.py's code) into --work, then decodes every cut of
a test set with each engine, starting from the waveform (features included in every engine's
time, one thread each), and prints one Markdown table:

  model | method | engine | utts | RTF | % error (WER, or PER of phone outputs) | same hyp as torch

  .venv/bin/python bench/bench_onnx.py --data data --transducer exp/transducer_a --ctc exp/ctc_att_a \\
      --av exp/ctc_att_av_bilinear --hlg-dir exp/graphs/hlg_grid_bpe --set test --work /tmp/bench_onnx

Methods and what "same" compares (sherpa-onnx's own conventions, the torch search set to match):
transducer greedy (1 symbol per frame), modified beam 4 (final pick by length-normalised score),
CTC greedy, HLG 1-best (beam 16, max-active 3000, no retry: sherpa-onnx's FasterDecoder settings).
AV systems (--av) run in torch and our onnxruntime loop only: sherpa-onnx takes waveforms only.
RTF = decode seconds / audio seconds. Timings depend on the machine's load: the header prints it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from _common import ROOT, markdown_table  # noqa: F401  (puts the repo on sys.path)


SAMPLE_SCALE = None  # export default (--sample-scale overrides)


def load_set(data: Path, corpus: str, name: str, limit: int):
    from avsr.train.data import cuts_path, has_mouth_roi, load_cuts

    cuts = sorted(load_cuts(cuts_path(data, corpus, name)), key=lambda c: c.id)[: limit or None]
    utts = []
    for c in cuts:
        samples = c.load_audio()[0].astype(np.float32)
        roi = None
        if has_mouth_roi(c):  # both video inputs: crops (pixels models) and their DCT (dct models)
            roi = {"pixels": np.ascontiguousarray(c.load_mouth_roi()),
                   "dct": np.asarray(c.load_custom("roi_dct"), np.float32) if c.has_custom("roi_dct") else None}
        utts.append((c.id, samples, roi, c.supervisions[0].text or ""))
    return utts


def error_rate(refs: list[str], hyps: list[str], tok, words_out: bool) -> str:
    """%WER of word outputs; %PER (vs the lexicon's phones) of a phone-unit model's phone outputs."""
    from avsr.score.wer import compute_error_stats

    if not words_out and tok.unit == "phone":
        refs = [tok.decode(tok.encode(r)) for r in refs]
    stats = compute_error_stats({str(i): r.split() for i, r in enumerate(refs)}, {str(i): h.split() for i, h in enumerate(hyps)})
    return f"{stats.rate:.1f} {'WER' if words_out or tok.unit != 'phone' else 'PER'}"


def sample_gain(res) -> float:
    """What sherpa-onnx's samples are multiplied by: int16 exports read int16-range features."""
    return 32768.0 if res.meta.get("sample_scale") == "int16" else 1.0


class Timer:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *a):
        self.seconds += time.perf_counter() - self.t0


def torch_model(exp: Path):
    import torch

    from avsr.e2e.decode import load_e2e_model

    model, cfg, tok, _ = load_e2e_model(exp)
    return model, cfg, tok, torch


def run_transducer(exp: Path, out: Path, utts, results: list) -> None:
    import sherpa_onnx

    from avsr.deploy.export_onnx import export_model
    from avsr.deploy.onnx_decode import OnnxE2E
    from avsr.e2e.search_transducer import greedy_search, modified_beam_search
    from avsr.features.audio import compute_fbank
    from avsr.train.data import Utterance, collate

    res = export_model(exp, out / exp.name, sample_scale=SAMPLE_SCALE)
    model, _, tok, torch = torch_model(exp)
    gain = sample_gain(res)
    ort_model = OnnxE2E(res.out_dir)
    files = [str(res.out_dir / f) for f in ("encoder.onnx", "decoder.onnx", "joiner.onnx", "tokens.txt")]
    recs = {"greedy": sherpa_onnx.OfflineRecognizer.from_transducer(*files, num_threads=1),
            "modified_beam": sherpa_onnx.OfflineRecognizer.from_transducer(*files, num_threads=1,
                                                                           decoding_method="modified_beam_search",
                                                                           max_active_paths=4)}
    audio_s = sum(len(s) for _, s, _, _ in utts) / 16000
    refs = [t for *_, t in utts]
    index = {p: i for i, p in enumerate(tok.pieces())}
    for method in ("greedy", "modified_beam"):
        hyps = {"torch": [], "onnxruntime": [], "sherpa-onnx": []}
        timers = {k: Timer() for k in hyps}
        for _, samples, _, _ in utts:
            with timers["torch"], torch.no_grad():
                batch = collate([Utterance("u", compute_fbank(samples), None, "", 1.0)])
                enc, lens = model.encode(batch)
                n = int(lens[0])
                if method == "greedy":
                    h = greedy_search(model, enc[0], n, 1)
                else:
                    h = max(modified_beam_search(model, enc[0], n, 4), key=lambda x: x[1] / (len(x[0]) + 2))[0]
            hyps["torch"].append(h)
            with timers["onnxruntime"]:
                e, _ = ort_model.encode(compute_fbank(samples), None)
                h = ort_model.greedy(e, 1) if method == "greedy" else ort_model.modified_beam(e, 4, length_norm=True)[0][0]
            hyps["onnxruntime"].append(h)
            with timers["sherpa-onnx"]:
                s = recs[method].create_stream()
                s.accept_waveform(16000, samples * gain)
                recs[method].decode_stream(s)
            hyps["sherpa-onnx"].append([index.get(t, index.get(t.replace(" ", "\u2581"), -1)) for t in s.result.tokens])
        for engine, hs in hyps.items():
            same = sum(a == b for a, b in zip(hs, hyps["torch"]))
            results.append([exp.name, method, engine, len(utts), timers[engine].seconds / audio_s,
                            error_rate(refs, [tok.decode(h) for h in hs], tok, False), f"{same}/{len(utts)}"])


def run_ctc(exp: Path, out: Path, utts, results: list, hlg_dir: Path | None, av: bool) -> None:
    from avsr.deploy.export_onnx import export_model
    from avsr.deploy.onnx_decode import OnnxE2E
    from avsr.deploy.search import best_path
    from avsr.e2e.hlg import HlgDecoder
    from avsr.e2e.search_ctc import ctc_greedy
    from avsr.features.audio import compute_fbank
    from avsr.train.data import Utterance, collate

    res = export_model(exp, out / exp.name, hlg_dir=None if av else hlg_dir, sample_scale=SAMPLE_SCALE)
    model, cfg, tok, torch = torch_model(exp)
    gain = sample_gain(res)
    video_input = cfg["frontend"].get("video_input", "pixels")
    ort_model = OnnxE2E(res.out_dir)
    engines = ["torch", "onnxruntime"] + ([] if av else ["sherpa-onnx"])
    recs = {}
    if not av:
        import sherpa_onnx

        recs["ctc_greedy"] = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(str(res.out_dir / "model.onnx"),
                                                                              str(res.out_dir / "tokens.txt"), num_threads=1)
        if hlg_dir:
            recs["hlg_1best"] = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(
                str(res.out_dir / "model.onnx"), str(res.out_dir / "tokens.txt"), num_threads=1,
                ctc_graph=str(res.out_dir / "HLG.fst"))
    graph = hlg = None
    if hlg_dir:
        hlg = HlgDecoder.load(hlg_dir, tok, None)
        graph = hlg.graph
        words = {i: w for w, i in graph.words}
    audio_s = sum(len(s) for _, s, _, _ in utts) / 16000
    refs = [t for *_, t in utts]
    index = {p: i for i, p in enumerate(tok.pieces())}
    for method in ["ctc_greedy"] + (["hlg_1best"] if hlg_dir else []):
        hyps = {k: [] for k in engines}
        timers = {k: Timer() for k in engines}
        for _, samples, rois, _ in utts:
            roi = rois[video_input] if av else None
            with timers["torch"], torch.no_grad():
                batch = collate([Utterance("u", compute_fbank(samples), roi, "", 1.0)])
                enc, lens = model.encode(batch)
                lp = model.ctc_log_probs(enc[0, : int(lens[0])])
                if method == "ctc_greedy":
                    h = tok.decode(ctc_greedy(lp))
                else:
                    p = best_path(graph, hlg.scores(lp), 16.0, 1.0, (1.0,), 3000)
                    h = "" if p.partial else " ".join(p.words)
            hyps["torch"].append(h)
            with timers["onnxruntime"]:
                lp2, _ = ort_model.encode(compute_fbank(samples), roi)
                if method == "ctc_greedy":
                    h = tok.decode(ort_model.ctc_greedy(lp2))
                else:
                    p = best_path(graph, hlg.scores(torch.from_numpy(lp2)), 16.0, 1.0, (1.0,), 3000)
                    h = "" if p.partial else " ".join(p.words)
            hyps["onnxruntime"].append(h)
            if "sherpa-onnx" in engines:
                with timers["sherpa-onnx"]:
                    s = recs[method].create_stream()
                    s.accept_waveform(16000, samples * gain)
                    recs[method].decode_stream(s)
                if method == "ctc_greedy":
                    h = tok.decode([index.get(t, index.get(t.replace(" ", "\u2581"), 0)) for t in s.result.tokens])
                else:
                    h = " ".join(words[w] for w in s.result.words)
                hyps["sherpa-onnx"].append(h)
        for engine, hs in hyps.items():
            same = sum(a == b for a, b in zip(hs, hyps["torch"]))
            results.append([exp.name, method, engine, len(utts), timers[engine].seconds / audio_s,
                            error_rate(refs, hs, tok, method == "hlg_1best"), f"{same}/{len(utts)}"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "data")
    p.add_argument("--corpus", default="synthetic_grid")
    p.add_argument("--set", default="test")
    p.add_argument("--transducer", type=Path, help="an audio-only transducer exp dir")
    p.add_argument("--ctc", type=Path, help="an audio-only CTC+attention exp dir")
    p.add_argument("--av", type=Path, nargs="*", default=[], help="AV (or video) CTC+attention exp dirs: torch vs onnxruntime")
    p.add_argument("--hlg-dir", type=Path, help="HLG graph over the CTC models' tokens")
    p.add_argument("--work", type=Path, default=Path("/tmp/bench_onnx"))
    p.add_argument("--limit", type=int, default=0, help="first N cuts only")
    p.add_argument("--json", type=Path, help="also write the rows here")
    p.add_argument("--sample-scale", choices=["unit", "int16"], help="export convention (default: the exporter's)")
    args = p.parse_args()
    global SAMPLE_SCALE
    SAMPLE_SCALE = args.sample_scale
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    utts = load_set(args.data, args.corpus, args.set, args.limit)
    results: list = []
    if args.transducer:
        run_transducer(args.transducer, args.work, utts, results)
    if args.ctc:
        run_ctc(args.ctc, args.work, utts, results, args.hlg_dir, av=False)
    for exp in args.av:
        run_ctc(exp, args.work, utts, results, args.hlg_dir, av=True)
    load = os.getloadavg()
    print(f"# {args.set} of {args.data} ({len(utts)} cuts, {sum(len(s) for _, s, _, _ in utts) / 16000:.1f} s); one thread "
          f"per engine; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    rows = [[m, meth, e, n, f"{rtf:.4f}", w, same] for m, meth, e, n, rtf, w, same in results]
    print(markdown_table(["model", "method", "engine", "utts", "RTF", "% error", "same hyp as torch"], rows,
                         [False, False, False, True, True, True, True]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
