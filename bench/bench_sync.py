#!/usr/bin/env python3
"""AV-sync measurements of the closing note (one process, one thread; prints Markdown, writes JSON).

    # offset accuracy on known injected offsets (-10..+10), false alarms, matched/mismatched AUC
    .venv/bin/python bench/bench_sync.py accuracy --cuts data/fbank/synthetic_grid_cuts_test.jsonl.gz \
        --model multiway=exp/sync_multiway --model contrastive=exp/sync_contrastive --out sync_acc.json
    # WER of hybrid AV systems with the test video shifted by -5..+5 frames, before/after correction
    .venv/bin/python bench/bench_sync.py wer --exp exp --data data --sets test,test_babble_snr0 \
        --systems video,concat,factored --sync-model exp/sync_multiway --out sync_wer.json --plot wer_vs_offset.png
    # shifted and QA-corrected copies of a test set, for the E2E decoder (steps/decode_e2e.py --data OUT)
    .venv/bin/python bench/bench_sync.py shifted-sets --data data --set test_babble_snr0 \
        --sync-model data/video/sync_model --out-dir /tmp/vshift
    # wall / CPU time of the QA stage on a copy of a corpus's cut manifests
    .venv/bin/python bench/bench_sync.py qa --data data --corpus synthetic_grid --workdir /tmp/sync_qa

``accuracy``: every test clip with its video delayed by K frames for each K (default -10..+10),
estimated by the cross-correlation baseline and by each learned model; mean |error| and share
within ±1 frame per K, pooled over K != 0, and the false-alarm rate at K = 0 (share of unshifted
clips estimated beyond ±1). AUC: a clip's own audio+video vs the video of one clip with the
audio of another (another speaker's, and, where a speaker has several clips, the same speaker's).
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import _common  # noqa: F401  (puts the repository on sys.path)
from _common import markdown_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.utils.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]


def _load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def accuracy(args) -> dict:
    import torch
    from lhotse import CutSet

    from avsr.sync.estimate import candidate_offsets
    from avsr.sync.evaluate import injected_offset_accuracy, matched_mismatched_auc
    from avsr.sync.pipeline import SyncSettings, build_estimator, clips_for_model
    from avsr.sync.train import load_sync_model

    torch.set_num_threads(1)
    settings = SyncSettings.load(args.conf)
    cuts = CutSet.from_file(args.cuts)
    if args.max_clips:
        cuts = cuts.subset(first=args.max_clips)
    offsets = candidate_offsets(settings.max_offset)
    inject = list(range(-args.max_inject, args.max_inject + 1))
    methods = [("xcorr", None)] + [tuple(m.split("=", 1)) for m in args.model]
    out = {"cuts": str(args.cuts), "num_clips": len(cuts), "inject": inject, "load_avg_start": _load_avg(), "methods": {}}
    for name, model_dir in methods:
        t0, c0 = time.time(), time.process_time()
        model = load_sync_model(model_dir)[0] if model_dir else None
        clips = clips_for_model(cuts, model, settings, f"{name}: load")
        fn = build_estimator("learned" if model else "xcorr", settings, model)
        res = injected_offset_accuracy(clips, fn, offsets, inject, tolerance=1, desc=name)
        res["auc_other_speaker"] = matched_mismatched_auc(clips, fn, offsets, other_speaker=True)
        speakers = {c.speaker for c in clips}
        if 1 < len(speakers) < len(clips):  # one speaker only: the pairs above are already same-speaker ones
            res["auc_same_speaker"] = _same_speaker_auc(clips, fn, offsets)
        res["model"] = model_dir
        res["seconds"], res["cpu_seconds"] = round(time.time() - t0, 1), round(time.process_time() - c0, 1)
        out["methods"][name] = res
    out["load_avg_end"] = _load_avg()
    return out


def _same_speaker_auc(clips, fn, offsets) -> dict:
    """Mismatched pairs within one speaker (another utterance of the same voice)."""
    import numpy as np

    from avsr.sync.estimate import estimate_all, roc_auc
    from avsr.sync.scoring import pair_clip

    rng = np.random.default_rng(1)
    pairs = []
    for i, c in enumerate(clips):
        pool = [j for j, d in enumerate(clips) if j != i and d.speaker == c.speaker]
        if pool:
            pairs.append((i, int(pool[rng.integers(len(pool))])))
    matched = estimate_all([clips[i] for i, _ in pairs], fn, offsets, desc="matched")
    mism = estimate_all([pair_clip(clips[i], clips[j]) for i, j in pairs], fn, offsets, desc="same-speaker pairs")
    return {"num_pairs": len(pairs), "mismatched_same_speaker": len(pairs),
            **{f"auc_{k}": roc_auc([getattr(e, k) for e in matched], [getattr(e, k) for e in mism])
               for k in ("score_at_zero", "score", "confidence")}}


def print_accuracy(res: dict) -> None:
    rows = []
    for name, r in res["methods"].items():
        per = r["per_offset"]
        rows.append([name, f"{100 * r['overall']['within_tolerance']:.1f}", f"{r['overall']['mean_abs_error_frames']:.2f}",
                     f"{100 * r['false_alarm_rate']:.1f}",
                     " ".join(f"{int(100 * per[str(k)]['within_tolerance'])}" for k in res["inject"]),
                     r["auc_other_speaker"]["auc_score_at_zero"], (r.get("auc_same_speaker") or {}).get("auc_score_at_zero", "-")])
    print(f"{res['cuts']}: {res['num_clips']} clips, injected K = {res['inject'][0]}..{res['inject'][-1]}; "
          f"load {res['load_avg_start']} -> {res['load_avg_end']}\n")
    print(markdown_table(["method", "within ±1 (K≠0) %", "mean abs error (frames)", "false alarms K=0 %", "within ±1 % per K",
                          "AUC other spk", "AUC same spk"], rows, [False, True, True, True, False, True, True]))


def qa_corrections(settings, model, clean_cuts, policy) -> Callable[[int], dict]:
    """k -> {clean cut id: the shift the QA stage would apply} for the clips of ``clean_cuts``
    with their video delayed by k frames (learned model, or the xcorr baseline without one):
    only confident estimates beyond the tolerance are acted on, as in stage 4."""
    from avsr.sync.estimate import candidate_offsets, estimate_all
    from avsr.sync.pipeline import build_estimator, clips_for_model
    from avsr.sync.qa import decide
    from avsr.sync.streams import injected

    clips = clips_for_model(clean_cuts, model, settings, "sync streams")
    fn = build_estimator("learned" if model else "xcorr", settings, model)
    cands = candidate_offsets(settings.max_offset)

    def estimate(k: int) -> dict:
        est = estimate_all([injected(c, k) for c in clips], fn, cands, desc=f"estimate k={k:+d}")
        return {e.cut_id: (e.offset_frames if decide(e, policy) == "shifted" else 0) for e in est}

    return estimate


def wer(args) -> dict:
    import torch
    from lhotse import CutSet

    from avsr.sync.pipeline import SyncSettings
    from avsr.sync.qa import QaPolicy
    from avsr.sync.robustness import HybridSystem, plot_wer_vs_offset, wer_vs_offset
    from avsr.sync.train import load_sync_model

    torch.set_num_threads(1)
    settings = SyncSettings.load(args.conf)
    exp, data = Path(args.exp), Path(args.data)
    offsets = list(range(-args.max_offset, args.max_offset + 1))
    policy = QaPolicy("shift", args.tolerance, settings.min_confidence("learned"))
    model = load_sync_model(args.sync_model)[0] if args.sync_model else None
    results = {}
    for set_name in args.sets.split(","):
        base = set_name.split("_")[0]  # the clean split the QA stage estimates on
        clean = CutSet.from_file(data / "fbank" / f"{args.corpus}_cuts_{base}.jsonl.gz")
        estimate = qa_corrections(settings, model, clean, policy)

        systems = []
        for spec in args.systems.split(","):
            dirs = [exp / f"hybrid_{m}" for m in spec.split("+")]
            systems.append(HybridSystem(spec, dirs, exp / "tri" / args.graph, data / "fbank", args.corpus, set_name))
        res = wer_vs_offset(systems, offsets, estimate, tolerance=args.tolerance)
        res["load_avg"] = _load_avg()
        results[set_name] = res
        print(f"\n{set_name} (WER %, video shifted by k frames; after = QA-corrected)\n")
        header = ["system"] + [f"{k:+d}" for k in offsets]
        rows = []
        for name, r in res["systems"].items():
            rows.append([name] + [f"{x['wer']:.1f}" for x in r["before"]])
            rows.append([f"{name}, corrected"] + [f"{x['wer']:.1f}" for x in r["after"]])
        print(markdown_table(header, rows, [False] + [True] * len(offsets)))
    if args.plot:
        plot_wer_vs_offset(results, args.plot, title=f"hybrid AV systems vs A/V offset ({args.corpus})")
    return results


def shifted_sets(args) -> dict:
    """Cut sets with every video delayed by k frames (``vs<k>``) and the same after the QA
    correction (``vs<k>c``), for decoders outside this bench (E2E: steps/decode_e2e.py --data <out>)."""
    from lhotse import CutSet

    from avsr.sync.pipeline import SyncSettings
    from avsr.sync.qa import QaPolicy, clean_id
    from avsr.sync.shift import add_video_shift
    from avsr.sync.train import load_sync_model

    import torch

    torch.set_num_threads(1)
    settings = SyncSettings.load(args.conf)
    data, out = Path(args.data), Path(args.out_dir) / "fbank"
    out.mkdir(parents=True, exist_ok=True)
    policy = QaPolicy("shift", args.tolerance, settings.min_confidence("learned"))
    model = load_sync_model(args.sync_model)[0]
    base = args.set.split("_")[0]
    clean = CutSet.from_file(data / "fbank" / f"{args.corpus}_cuts_{base}.jsonl.gz")
    noisy = CutSet.from_file(data / "fbank" / f"{args.corpus}_cuts_{args.set}.jsonl.gz")
    estimate = qa_corrections(settings, model, clean, policy)
    counts = {}
    for k in range(-args.max_offset, args.max_offset + 1):
        fix = estimate(k)
        CutSet.from_cuts([add_video_shift(c, k) for c in noisy]).to_file(out / f"{args.corpus}_cuts_vs{k:+d}.jsonl.gz")
        CutSet.from_cuts([add_video_shift(c, k - fix.get(clean_id(c), 0)) for c in noisy]).to_file(
            out / f"{args.corpus}_cuts_vs{k:+d}c.jsonl.gz")
        counts[k] = sum(1 for v in fix.values() if v)
        print(f"k={k:+d}: {counts[k]} of {len(fix)} clips corrected")
    return {"corrected": counts}


def qa(args) -> dict:
    """Run steps/sync_qa.py on a copy of the cut manifests (storage paths stay those of --data)."""
    work = Path(args.workdir)
    if work.exists():
        shutil.rmtree(work)
    (work / "fbank").mkdir(parents=True)
    for p in (Path(args.data) / "fbank").glob(f"{args.corpus}_cuts_*.jsonl.gz"):
        shutil.copyfile(p, work / "fbank" / p.name)
    cmd = [sys.executable, str(ROOT / "steps/sync_qa.py"), "--feature-dir", str(work / "fbank"), "--video-dir",
           str(work / "video"), "--corpus", args.corpus] + args.extra
    load0, t0 = _load_avg(), time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    report = json.loads((work / "video" / "sync_report.json").read_text())
    out = {"command": " ".join(cmd), "wall_seconds": round(time.time() - t0, 1),
           "cpu_seconds": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
           "load_avg_before": load0, "load_avg_after": _load_avg(),
           "report": {k: v for k, v in report.items() if k not in ("clips", "sets")}}
    print(markdown_table(["clips", "flagged", "wall s", "CPU s", "load before", "load after"],
                         [[report["num_clips"], report["num_flagged"], out["wall_seconds"], out["cpu_seconds"], load0,
                           out["load_avg_after"]]], [True] * 4))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("--cuts", required=True, type=Path)
    a.add_argument("--model", action="append", default=[], help="NAME=DIR of a trained sync model (repeatable)")
    a.add_argument("--max-inject", type=int, default=10)
    a.add_argument("--max-clips", type=int)
    w = sub.add_parser("wer")
    w.add_argument("--exp", required=True)
    w.add_argument("--data", required=True)
    w.add_argument("--corpus", default="synthetic_grid")
    w.add_argument("--sets", default="test,test_babble_snr0")
    w.add_argument("--systems", default="video,concat,factored", help="hybrid variants; a+b = posterior average")
    w.add_argument("--graph", default="graph_grid_espeak")
    w.add_argument("--sync-model", help="sync model for the correction (default: the xcorr baseline)")
    w.add_argument("--max-offset", type=int, default=5)
    w.add_argument("--tolerance", type=int, default=1)
    w.add_argument("--plot", type=Path)
    v = sub.add_parser("shifted-sets", help="shifted / QA-corrected cut sets for other decoders")
    v.add_argument("--data", required=True)
    v.add_argument("--corpus", default="synthetic_grid")
    v.add_argument("--set", default="test_babble_snr0")
    v.add_argument("--sync-model", required=True)
    v.add_argument("--max-offset", type=int, default=5)
    v.add_argument("--tolerance", type=int, default=1)
    v.add_argument("--out-dir", required=True)
    q = sub.add_parser("qa")
    q.add_argument("--data", required=True)
    q.add_argument("--corpus", default="synthetic_grid")
    q.add_argument("--workdir", required=True)
    q.add_argument("extra", nargs="*", help="more steps/sync_qa.py options (after --)")
    for s in (a, w, v):
        s.add_argument("--conf", default=ROOT / "conf" / "sync.yaml", type=Path)
    for s in (a, w, q):
        s.add_argument("--out", type=Path, help="JSON results")
    args = p.parse_args()
    res = {"accuracy": accuracy, "wer": wer, "qa": qa, "shifted-sets": shifted_sets}[args.cmd](args)
    if args.cmd == "accuracy":
        print_accuracy(res)
    if args.out:
        write_json_atomic(args.out, res)


if __name__ == "__main__":
    main()
