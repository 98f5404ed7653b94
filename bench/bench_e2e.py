#!/usr/bin/env python3
"""E2E speed tables.

  bench/bench_e2e.py --exp exp            # collect, E2E systems only: training throughput
                                          # (bench_training.py), WER per condition, decode RTF per
                                          # system and method (bench_decode.py --by-system)
  bench/bench_e2e.py --micro              # micro-benchmark on random inputs: train step time per
                                          # fusion and model, per-utterance search time per method

RTF = (encoder + search seconds) / audio seconds, single process, the thread count given.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def collect(exp: Path, data: Optional[Path] = None) -> None:
    """E2E training throughput, WER per condition and RTF per (system, method), from exp files."""
    from _common import default_data_dir
    from bench_decode import decode_records, decode_table
    from bench_training import training_table

    from avsr.e2e.report import collect_scores, wer_table

    data = data or default_data_dir(exp)
    print(training_table(exp, data, kinds=("e2e",)))
    records = collect_scores(exp)
    if records:
        print("\n" + wer_table(records))
    e2e = [r for r in decode_records(exp, data) if r.family in ("ctc_attention", "transducer")]
    if e2e:
        print("\n" + decode_table(e2e, by_system=True))


def micro(threads: int, batch: int, reps: int) -> None:
    import numpy as np
    import torch
    import yaml

    from avsr.e2e.search_attention import attention_beam_search
    from avsr.e2e.search_ctc import ctc_greedy, ctc_prefix_beam_search
    from avsr.e2e.search_transducer import greedy_search, modified_beam_search
    from avsr.models.factory import build_model
    from avsr.train.data import Utterance, collate

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    utts = [Utterance(str(i), rng.normal(size=(232, 80)).astype(np.float32),
                      rng.integers(0, 255, (58, 44, 44)).astype(np.uint8), "", 2.32) for i in range(batch)]
    b = collate(utts)
    b.tokens = [list(range(3, 15)) for _ in range(batch)]
    repo = Path(__file__).resolve().parents[1]
    print(f"train step, batch {batch} x 2.32 s, {threads} thread(s), median of {reps}\n")
    print("| model | fusion | params | s/step | ms/utt |")
    print("|---|---|---:|---:|---:|")
    models = {}
    for conf in ("ctc_attention", "transducer"):
        for fusion in ("audio", "video", "concat", "bilinear"):
            cfg = yaml.safe_load((repo / "conf" / f"{conf}.yaml").read_text())
            cfg["frontend"]["fusion"] = fusion
            model = build_model(copy.deepcopy(cfg), 64)
            opt = torch.optim.Adam(model.parameters())
            times = []
            for i in range(reps + 1):
                t0 = time.perf_counter()
                loss, _ = model(b)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if i:
                    times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(f"| {conf} | {fusion} | {sum(p.numel() for p in model.parameters()):,} | {med:.3f} | "
                  f"{1000 * med / batch:.1f} |")
            models[(conf, fusion)] = model.eval()
    print("\nsearch per utterance (2.32 s, 58 encoder frames; untrained weights: timing only)\n")
    print("| method | ms/utt | RTF (search only) |")
    print("|---|---:|---:|")
    ca, tr = models[("ctc_attention", "bilinear")], models[("transducer", "bilinear")]
    with torch.no_grad():
        enc_ca, n = ca.encode(collate(utts[:1]))
        enc_tr, _ = tr.encode(collate(utts[:1]))
        n = int(n[0])
        lp = ca.ctc_log_probs(enc_ca[0])
        methods = {
            "ctc_greedy": lambda: ctc_greedy(lp),
            "ctc_prefix_beam (8)": lambda: ctc_prefix_beam_search(lp, 8, token_prune=8),
            "attention_beam (8)": lambda: attention_beam_search(ca, enc_ca, n, 8, max_len=15),
            "joint_ctc_attention (8)": lambda: attention_beam_search(ca, enc_ca, n, 8, ctc_weight=0.3, max_len=15),
            "transducer greedy": lambda: greedy_search(tr, enc_tr, n),
            "modified_beam (4)": lambda: modified_beam_search(tr, enc_tr, n, 4),
        }
        for name, fn in methods.items():
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(f"| {name} | {1000 * med:.1f} | {med / 2.32:.4f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", type=Path, help="experiment root to collect from")
    p.add_argument("--data", type=Path, help="data root for the training manifests (default: from config.yaml)")
    p.add_argument("--micro", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    if args.exp:
        collect(args.exp, args.data)
    if args.micro:
        micro(args.threads, args.batch, args.reps)
    if not (args.exp or args.micro):
        p.error("give --exp DIR and/or --micro")


if __name__ == "__main__":
    main()
