#!/usr/bin/env python3
"""Benchmark the pure-torch RNN-T loss: forward+backward time and peak memory, float32 CPU.

Each (vocabulary, variant) runs in its own subprocess so that peak memory can be read
honestly from the kernel: torch's CPU allocator has no counter, so the worker records the
process's peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) after building the inputs,
runs one forward+backward (after a tiny warm-up call), and reports the increase of that
high-water mark. Times are the median of ``--reps`` further forward+backward runs after one
warm-up.

Variants:
  fused+beta      default: fused log-softmax/gather, explicit beta backward
  fused+autograd  fused log-softmax/gather, autograd through the alpha recursion
  lsm+beta        torch.log_softmax outside the loss (fused_log_softmax=False), beta backward
  lsm+autograd    torch.log_softmax outside, autograd through the recursion

Example: .venv/bin/python bench/bench_rnnt_loss.py --vocab 40 500
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = {
    "fused+beta": dict(fused=True, gradient="beta"),
    "fused+autograd": dict(fused=True, gradient="autograd"),
    "lsm+beta": dict(fused=False, gradient="beta"),
    "lsm+autograd": dict(fused=False, gradient="autograd"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[1:]))
    parser.add_argument("--batch", type=int, default=8, help="B (default 8)")
    parser.add_argument("--frames", type=int, default=75, help="T after subsampling (default 75)")
    parser.add_argument("--labels", type=int, default=30, help="U (default 30)")
    parser.add_argument("--vocab", type=int, nargs="+", default=[40, 500], help="V values")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--reps", type=int, default=10, help="timed repetitions (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--worker", nargs=2, metavar=("VOCAB", "VARIANT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_worker(args: argparse.Namespace, vocab: int, variant: str) -> dict:
    """One measurement in this (fresh) process; returns a result row."""
    import torch

    from avsr.models.rnnt_loss import rnnt_loss

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    options = VARIANTS[variant]
    batch, frames, labels = args.batch, args.frames, args.labels
    logits = torch.randn(batch, frames, labels + 1, vocab, requires_grad=True)
    targets = torch.randint(1, vocab, (batch, labels))
    # Realistic padding: lengths spread over the batch, the longest filling the tensor.
    logit_lengths = torch.linspace(frames * 0.6, frames, batch).round().long()
    target_lengths = torch.linspace(labels * 0.6, labels, batch).round().long()

    def step(x=logits, y=targets, x_lengths=logit_lengths, y_lengths=target_lengths) -> float:
        inputs = x if options["fused"] else x.log_softmax(dim=-1)
        loss = rnnt_loss(inputs, y, x_lengths, y_lengths,
                         fused_log_softmax=options["fused"], gradient=options["gradient"])
        loss.backward()
        x.grad = None
        return float(loss)

    # A tiny first call loads lazily initialised code paths, so they don't count as peak memory.
    tiny = torch.randn(1, 2, 2, vocab, requires_grad=True)
    step(tiny, targets[:1, :1], torch.tensor([2]), torch.tensor([1]))
    before = peak_rss_mib()
    loss_value = step()
    peak_delta = peak_rss_mib() - before
    step()  # warm-up
    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {
        "vocab": vocab, "variant": variant, "loss": loss_value,
        "median_ms": 1000 * statistics.median(times), "min_ms": 1000 * min(times),
        "peak_rss_increase_mib": peak_delta,
        "logits_mib": logits.numel() * logits.element_size() / 2**20,
    }


def main() -> None:
    args = parse_args()
    if args.worker:
        print(json.dumps(run_worker(args, int(args.worker[0]), args.worker[1])))
        return
    rows = []
    base = [sys.executable, __file__, "--batch", str(args.batch), "--frames", str(args.frames),
            "--labels", str(args.labels), "--reps", str(args.reps), "--threads", str(args.threads)]
    for vocab in args.vocab:
        for variant in args.variants:
            done = subprocess.run(base + ["--worker", str(vocab), variant], check=True,
                                  capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    from _common import markdown_table

    print(f"B={args.batch} T={args.frames} U={args.labels} float32, {args.threads} thread(s), "
          f"median of {args.reps}\n")
    print(markdown_table(["V", "variant", "fwd+bwd median ms", "min ms", "peak +MiB", "logits MiB", "loss"],
                         ([row["vocab"], row["variant"], f"{row['median_ms']:.1f}", f"{row['min_ms']:.1f}",
                           f"{row['peak_rss_increase_mib']:.1f}", f"{row['logits_mib']:.1f}", f"{row['loss']:.3f}"]
                          for row in rows), [True, False] + [True] * 5))
    if args.out is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from avsr.utils.io import write_json_atomic

        write_json_atomic(args.out, rows)


if __name__ == "__main__":
    main()
