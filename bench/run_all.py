#!/usr/bin/env python3
"""Run every benchmark in sequence and print one Markdown report (paste it into bench/README.md).

  .venv/bin/python bench/run_all.py --exp exp --data data > /tmp/bench_report.md

Sections, in order (each script runs in its own process, with a time limit):
  features  bench_features.py on --num-clips clips of <data>/manifests/<corpus>_cuts_test.jsonl.gz
  graphs    bench_graphs.py (trigram on <data>/lm/train_text.txt when present)
  rnnt      bench_rnnt_loss.py, V in {40, 500}, default and slowest variants, --reps repetitions
  e2e       bench_e2e.py --micro: train step per model and fusion, search time per method
  training  bench_training.py --exp --data: training throughput per trained system
  decode    bench_decode.py --exp --data: decode RTF per method
  decode-systems  the same --by-system: decode wall time and RTF per system and method
The header records date, CPUs, load average and torch version; each section records its command,
wall time and the load average when it finished, since the 2 cores may be shared. About 1 minute
on the tiny preset; the micro benchmarks do not grow with the corpus, the exp readers only read.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, host_header

BENCH = Path(__file__).resolve().parent
SECTIONS = ["features", "graphs", "rnnt", "e2e", "training", "decode", "decode-systems"]
TITLES = {
    "features": "Feature extraction throughput (audio and video, one process)",
    "graphs": "Graph build times and sizes",
    "rnnt": "RNN-T loss (forward + backward, float32, CPU)",
    "e2e": "E2E micro-benchmark (random inputs, untrained weights: timing only)",
    "training": "Training throughput per system (from the experiment's logs)",
    "decode": "Decoding real-time factor per method (from the experiment's score files)",
    "decode-systems": "Decoding wall time and RTF per system and method",
}


def test_manifest(data: Path) -> Path | None:
    """The clean test-set cut manifest (with video) of the one corpus in ``data/manifests``."""
    found = sorted((data / "manifests").glob("*_cuts_test.jsonl.gz"))
    return found[0] if len(found) == 1 else None


def section_commands(args: argparse.Namespace, workdir: Path) -> dict[str, list[str] | str]:
    """Section → argv, or a reason string when the section cannot run on these inputs."""
    py = sys.executable
    cmds: dict[str, list[str] | str] = {}
    manifest = test_manifest(args.data) if args.data else None
    cmds["features"] = ([py, str(BENCH / "bench_features.py"), str(manifest), "--num-cuts", str(args.num_clips)]
                        if manifest else f"no single *_cuts_test.jsonl.gz in {args.data}/manifests")
    graphs = [py, str(BENCH / "bench_graphs.py"), "--workdir", str(workdir / "graphs")]
    text = args.data / "lm" / "train_text.txt" if args.data else None
    cmds["graphs"] = graphs + (["--text", str(text)] if text and text.is_file() else [])
    cmds["rnnt"] = [py, str(BENCH / "bench_rnnt_loss.py"), "--vocab", "40", "500", "--variants", "fused+beta",
                    "lsm+autograd", "--reps", str(args.reps)]
    cmds["e2e"] = [py, str(BENCH / "bench_e2e.py"), "--micro", "--batch", "8", "--reps", str(args.reps)]
    exp_args = ["--exp", str(args.exp)] + (["--data", str(args.data)] if args.data else [])
    for name, script in (("training", "bench_training.py"), ("decode", "bench_decode.py")):
        cmds[name] = [py, str(BENCH / script), *exp_args] if args.exp and args.exp.is_dir() else f"no --exp dir ({args.exp})"
    cmds["decode-systems"] = cmds["decode"] + ["--by-system"] if isinstance(cmds["decode"], list) else cmds["decode"]
    return cmds


def run_section(argv: list[str], timeout: float) -> tuple[str, float, str]:
    """(stdout, wall seconds, problem or '') of one benchmark process run from the repo root."""
    t0 = time.time()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return out, time.time() - t0, f"timed out after {timeout:.0f} s"
    problem = ""
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        problem = f"exit code {done.returncode}:\n```\n{tail}\n```"
    return done.stdout, time.time() - t0, problem


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="\n".join(__doc__.split("\n")[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", type=Path, default=Path("exp"), help="experiment root (default exp)")
    p.add_argument("--data", type=Path, default=Path("data"), help="data root (default data)")
    p.add_argument("--num-clips", type=int, default=10, help="test clips for the feature benchmark (default 10)")
    p.add_argument("--reps", type=int, default=3, help="timed repetitions in the micro benchmarks (default 3)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    p.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="skip these sections")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds allowed per section (default 180)")
    args = p.parse_args()
    args.exp, args.data = args.exp.resolve(), args.data.resolve()
    chosen = [s for s in SECTIONS if s in (args.only or SECTIONS) and s not in args.skip]
    t_start = time.time()
    print("## Benchmark run (bench/run_all.py)\n")
    print(host_header())
    print(f"- inputs: --exp {args.exp}, --data {args.data}")
    with tempfile.TemporaryDirectory(prefix="bench_run_all_") as tmp:
        cmds = section_commands(args, Path(tmp))
        for name in chosen:
            print(f"\n### {TITLES[name]}\n")
            cmd = cmds[name]
            if isinstance(cmd, str):
                print(f"skipped: {cmd}")
                continue
            shown = shlex.join([Path(c).name if c == sys.executable else c.replace(str(ROOT) + "/", "") for c in cmd])
            out, wall, problem = run_section(cmd, args.timeout)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"`{shown}` — {wall:.1f} s wall, load average after {load}\n")
            print(out.rstrip())
            if problem:
                print(f"\n**failed**: {problem}")
            sys.stdout.flush()
    print(f"\nTotal {time.time() - t_start:.0f} s.")


if __name__ == "__main__":
    main()
