"""The issue's tables from the score files: variant x condition frame PER / WER / PER with 95%
bootstrap intervals, parameter counts, and whether the seed paper's orderings hold (paired
bootstrap over utterances: P(A better than B))."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence, Union

from avsr.hybrid.evaluate import paired_bootstrap_better

PathLike = Union[str, Path]
CONDITIONS = [("clean", ""), ("10 dB", "_babble_snr10"), ("0 dB", "_babble_snr0"), ("-5 dB", "_babble_snr-5")]
SYSTEMS = ["mono", "tri", "tri_vf", "hybrid_audio", "hybrid_video", "hybrid_concat", "hybrid_deep_fusion", "hybrid_shallow_fusion",
           "hybrid_bilinear", "hybrid_factored", "hybrid_shared_factored", "hybrid_posterior_average"]
# (better, worse, metric, conditions) the paper reports or implies
ORDERINGS = [
    ("hybrid_concat", "hybrid_audio", "frame", "noisy"),
    ("hybrid_concat", "hybrid_video", "frame", "all"),
    ("hybrid_audio", "hybrid_video", "frame", "clean"),
    ("hybrid_deep_fusion", "hybrid_concat", "frame", "all"),
    ("hybrid_bilinear", "hybrid_concat", "frame", "all"),
    ("hybrid_factored", "hybrid_bilinear", "frame", "all"),
    ("hybrid_shared_factored", "hybrid_factored", "frame", "all"),
    ("hybrid_posterior_average", "hybrid_concat", "frame", "all"),
    ("hybrid_posterior_average", "hybrid_bilinear", "frame", "all"),
    ("tri", "mono", "word", "clean"),
    ("tri_vf", "mono", "word", "clean"),
    ("hybrid_concat", "tri_vf", "word", "noisy"),
    ("hybrid_audio", "tri", "word", "clean"),
]
METRIC_KEYS = {"frame": ("frame_err", "frames", "frame_per"), "word": ("word_err", "words", "wer"), "phone": ("phone_err", "phones", "per_phone_decode")}


def _load(exp: Path, system: str, set_name: str) -> Optional[dict]:
    path = exp / system / f"score_{set_name}" / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _cell(s: Optional[dict], metric: str) -> str:
    if not s or METRIC_KEYS[metric][2] not in s:
        return "–"
    value = s[METRIC_KEYS[metric][2]]
    ci = s.get({"frame": "frame_per_ci95", "word": "wer_ci95", "phone": "per_ci95"}[metric])
    return f"{value:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else f"{value:.1f}"


def _paired(a: dict, b: dict, metric: str) -> Optional[tuple[float, float]]:
    """(P(a better than b), P(b better than a)) over the same bootstrap resamples; ties count for neither."""
    e_key, n_key, _ = METRIC_KEYS[metric]
    utts = [u for u in a["per_utt"] if e_key in a["per_utt"][u] and e_key in b["per_utt"].get(u, {})]
    if not utts:
        return None
    ea, na = [a["per_utt"][u][e_key] for u in utts], [a["per_utt"][u][n_key] for u in utts]
    eb, nb = [b["per_utt"][u][e_key] for u in utts], [b["per_utt"][u][n_key] for u in utts]
    return paired_bootstrap_better(ea, na, eb, nb), paired_bootstrap_better(eb, nb, ea, na)


def make_report(exp: PathLike, split: str = "test", systems: Sequence[str] = SYSTEMS) -> str:
    exp = Path(exp)
    lines = []
    for metric, title in (("frame", "Frame PER % (CD-state classification error)"), ("word", "WER %"), ("phone", "PER % (phone-level decoding)")):
        lines += [f"### {title} on {split}, babble noise, [95% bootstrap CI]", "",
                  "| system | " + " | ".join(c for c, _ in CONDITIONS) + " |", "|---|" + "---|" * len(CONDITIONS)]
        for sys_name in systems:
            cells = [_cell(_load(exp, sys_name, split + suffix), metric) for _, suffix in CONDITIONS]
            if any(c != "–" for c in cells):
                lines.append(f"| {sys_name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### Orderings (paired bootstrap over utterances: P(first better))", "", "| claim | condition | P(claim) / P(reverse) | holds (95%) |", "|---|---|---|---|"]
    for better, worse, metric, which in ORDERINGS:
        conds = CONDITIONS if which == "all" else CONDITIONS[:1] if which == "clean" else CONDITIONS[1:]
        for cname, suffix in conds:
            a, b = _load(exp, better, split + suffix), _load(exp, worse, split + suffix)
            if not a or not b:
                continue
            probs = _paired(a, b, metric)
            if probs is None:
                continue
            p, q = probs
            verdict = "yes" if p >= 0.975 else "no (reversed)" if q >= 0.975 else "not significant"
            lines.append(f"| {better} < {worse} ({metric}) | {cname} | {p:.3f} / {q:.3f} | {verdict} |")
    lines += ["", "### Models", "", "| system | architecture | parameters | fusion-layer parameters | train s | peak RSS MiB |", "|---|---|---|---|---|---|"]
    for sys_name in systems:
        path = exp / sys_name / "train.json"
        if path.is_file() and sys_name.startswith("hybrid_"):
            t = json.loads(path.read_text())
            lines.append(f"| {sys_name} | {t['architecture']} | {t['parameters']:,} | {t['fusion_parameters']:,} | {t['seconds']['total']} | {t['peak_rss_mib']} |")
    return "\n".join(lines) + "\n"
