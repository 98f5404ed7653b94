#!/usr/bin/env python3
"""Wall time and peak memory of stages 6-9 (GMM-HMM, graphs, hybrid DNNs) on a prepared
corpus: runs each stage command in a child process, measures it with os.wait4 (the child's
own peak RSS) and prints a table; --json writes the rows.

  .venv/bin/python bench/bench_hybrid.py --recipe-dir . --exp exp --lang data/lang_espeak --lm data/lm/grid

Run from anywhere: commands run in --recipe-dir (stage-3 cut files store relative paths).
--variants limits the hybrid variants; --epochs overrides their epoch count (quick runs).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ["audio", "video", "concat", "deep_fusion", "shallow_fusion", "bilinear", "factored", "shared_factored", "posterior_average"]


def stage_commands(py: str, exp: str, lang: str, lm: str, feature_dir: str, variants: list[str], epochs: int, nj: int) -> list[tuple[str, str, list[str]]]:
    """(stage, name, argv) of stages 6-9, in run order (what run.sh runs)."""
    s = str(ROOT / "steps")
    conf = str(ROOT / "conf")
    cmds = [
        ("6", "mono", [py, f"{s}/train_gmm.py", "--kind", "mono", "--lang", lang, "--feature-dir", feature_dir, "--conf", f"{conf}/gmm.yaml", "--out", f"{exp}/mono"]),
        ("6", "tri", [py, f"{s}/train_gmm.py", "--kind", "tri", "--mono-dir", f"{exp}/mono", "--lang", lang, "--feature-dir", feature_dir, "--conf", f"{conf}/gmm.yaml", "--out", f"{exp}/tri"]),
        ("7", "graph mono", [py, f"{s}/make_hclg.py", "--lang", lang, "--lm", lm, "--model", f"{exp}/mono", "--out", f"{exp}/mono/graph_{Path(lm).name}",
                             "--phone-out", f"{exp}/mono/graph_phone_bg", "--feature-dir", feature_dir]),
        ("7", "graph tri", [py, f"{s}/make_hclg.py", "--lang", lang, "--lm", lm, "--model", f"{exp}/tri", "--out", f"{exp}/tri/graph_{Path(lm).name}",
                            "--phone-out", f"{exp}/tri/graph_phone_bg", "--feature-dir", feature_dir]),
    ]
    for m in ("mono", "tri"):
        cmds.append(("7", f"decode {m}", [py, f"{s}/decode_gmm.py", "--model", f"{exp}/{m}", "--graph", f"{exp}/{m}/graph_{Path(lm).name}",
                                          "--lexicon", f"{lang}/lexicon.txt", "--feature-dir", feature_dir, "--conf", f"{conf}/gmm.yaml",
                                          "--phone-graph", f"{exp}/{m}/graph_phone_bg"]))
    extra = ["--epochs", str(epochs)] if epochs else []
    for v in variants:
        cmds.append(("8", f"train {v}", [py, f"{s}/train_hybrid.py", "--conf", f"{conf}/hybrid_{v}.yaml", "--ali-dir", f"{exp}/tri", "--feature-dir", feature_dir,
                                         "--exp", exp, "--out", f"{exp}/hybrid_{v}", "--nj", str(nj), *extra]))
    for v in variants:
        cmds.append(("9", f"decode {v}", [py, f"{s}/decode_hybrid.py", "--conf", f"{conf}/hybrid_{v}.yaml", "--model", f"{exp}/hybrid_{v}", "--feature-dir", feature_dir,
                                          "--exp", exp, "--graph", f"{exp}/tri/graph_{Path(lm).name}", "--lexicon", f"{lang}/lexicon.txt", "--nj", str(nj),
                                          "--phone-graph", f"{exp}/tri/graph_phone_bg"]))
    return cmds


def run_measured(argv: list[str], cwd: str, log_path: Path) -> tuple[int, float, float]:
    """(exit code, wall seconds, peak RSS MiB of that child)."""
    t0 = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), time.time() - t0, usage.ru_maxrss / 1024.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe-dir", default=".")
    p.add_argument("--exp", default="exp")
    p.add_argument("--lang", default="data/lang_espeak")
    p.add_argument("--lm", default="data/lm/grid")
    p.add_argument("--feature-dir", default="data/fbank")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--epochs", type=int, default=0)
    p.add_argument("--nj", type=int, default=1)
    p.add_argument("--only", help="comma-separated stage numbers to run (default: 6,7,8,9)")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    cmds = stage_commands(sys.executable, args.exp, args.lang, args.lm, args.feature_dir, args.variants.split(","), args.epochs, args.nj)
    if args.only:
        keep = set(args.only.split(","))
        cmds = [c for c in cmds if c[0] in keep]
    log_dir = Path(args.recipe_dir) / args.exp / "log" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"{'stage':>5}  {'step':<24} {'wall s':>8} {'peak MiB':>9}  status")
    for stage, name, argv in cmds:
        code, wall, rss = run_measured(argv, args.recipe_dir, log_dir / f"{name.replace(' ', '_')}.log")
        rows.append({"stage": stage, "step": name, "wall_s": round(wall, 1), "peak_rss_mib": round(rss, 1), "exit": code, "command": shlex.join(argv)})
        print(f"{stage:>5}  {name:<24} {wall:8.1f} {rss:9.1f}  {'ok' if code == 0 else f'FAILED ({code}), see ' + str(log_dir)}", flush=True)
        if code != 0:
            break
    totals = {}
    for r in rows:
        totals.setdefault(r["stage"], [0.0, 0.0])
        totals[r["stage"]][0] += r["wall_s"]
        totals[r["stage"]][1] = max(totals[r["stage"]][1], r["peak_rss_mib"])
    for st, (wall, rss) in totals.items():
        print(f"stage {st}: {wall:.1f} s wall, peak {rss:.1f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "stage_totals": totals}, indent=2) + "\n")


if __name__ == "__main__":
    main()
