#!/usr/bin/env python3
"""E2E speed tables.

  bench/bench_e2e.py --exp exp            # collect: training wall time per model (log/epochs.csv)
                                          # and decode RTF per method (decode_*/**/score.json)
  bench/bench_e2e.py --micro              # micro-benchmark on random inputs: train step time per
                                          # fusion and model, per-utterance search time per method

RTF = (encoder + search seconds) / audio seconds, single process, the thread count given.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def collect(exp: Path) -> None:
    print("| system | model | fusion | epochs | train s | s/epoch |")
    print("|---|---|---|---:|---:|---:|")
    for d in sorted(p for p in exp.iterdir() if (p / "log" / "epochs.csv").is_file()):
        import yaml

        cfg = yaml.safe_load((d / "config.yaml").read_text()) if (d / "config.yaml").is_file() else {}
        with open(d / "log" / "epochs.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        secs = [float(r["seconds"]) for r in rows]
        print(f"| {d.name} | {cfg.get('model', '?')} | {cfg.get('frontend', {}).get('fusion', '?')} | {len(rows)} | "
              f"{sum(secs):.1f} | {statistics.mean(secs) if secs else 0:.1f} |")
    from avsr.e2e.report import collect_scores, wer_table

    records = collect_scores(exp)
    if records:
        print("\n" + wer_table(records))
    rtf: dict[tuple[str, str], list[float]] = defaultdict(list)
    for score in exp.glob("*/decode_*/*/*/score.json"):
        rec = json.loads(score.read_text())
        rtf[(rec["system"], rec["method"])].append(rec["rtf"])
    if rtf:
        print("\n| system | method | mean RTF | sets |")
        print("|---|---|---:|---:|")
        for (system, method), values in sorted(rtf.items()):
            print(f"| {system} | {method} | {statistics.mean(values):.4f} | {len(values)} |")


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
    print(f"train step, batch {batch} x 2.32 s, {threads} thread(s), median of {reps}")
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
    print("\nsearch per utterance (2.32 s, 58 encoder frames; untrained weights: timing only)")
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
    p.add_argument("--micro", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    if args.exp:
        collect(args.exp)
    if args.micro:
        micro(args.threads, args.batch, args.reps)
    if not (args.exp or args.micro):
        p.error("give --exp DIR and/or --micro")


if __name__ == "__main__":
    main()
