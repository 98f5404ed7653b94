"""Short sentences computed from the data: each states the numbers, the paired-bootstrap
probability and whether the claim holds; the wording is chosen by the numbers."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from avsr.leaderboard.conditions import CLEAN, Condition
from avsr.leaderboard.records import SystemRow
from avsr.leaderboard.significance import (DEFAULT_E2E_METHODS, av_vs_a_pairs, find_row, plain_rows,
                                           representative_method)
from avsr.leaderboard.stats import Comparison, Statistics

BABBLE_0 = Condition("babble", 0.0)
E2E = ("CTC+attention", "transducer")


def verdict(cmp: Comparison) -> str:
    """Whether "B has a lower error rate than A" holds, from the paired test (one-sided, 5 %)."""
    if cmp.paired.p_value < 0.05:
        return "**holds** (significant, p = %.3f)" % cmp.paired.p_value
    if cmp.b_significantly_worse:
        return "**does not hold**: the reverse is significant (p = %.3f)" % cmp.reverse.p_value
    if cmp.paired.delta < 0:
        return "holds in direction but is **not significant** (p = %.3f)" % cmp.paired.p_value
    return "**does not hold** (not significant either way, p = %.3f)" % cmp.paired.p_value


def _sentence(claim: str, a: SystemRow, b: SystemRow, cond: Condition, cmp: Optional[Comparison]) -> str:
    name_a, name_b = a.key, b.key
    if cmp is None:
        return f"- {claim} ({cond.label}): cannot be tested, {name_a} and {name_b} share no scored utterances there."
    rel, lo, hi = cmp.relative
    change = "reduction" if rel <= 0 else "increase"
    return (f"- {claim} ({cond.label}, {cmp.num_utts} utterances): WER {cmp.rate_a:.1f} % ({name_a}) → "
            f"{cmp.rate_b:.1f} % ({name_b}), relative {change} {abs(rel):.1f} % (95 % CI of the change "
            f"[{lo:+.1f}, {hi:+.1f}] % of the first WER); P({b.system} better) = {cmp.prob_b_better:.3f}: {verdict(cmp)}.")


def _av_vs_a(rows, stats, methods) -> list[str]:
    out = []
    families = dict.fromkeys(av.family for _, av in av_vs_a_pairs(rows))
    for family in families:
        method = representative_method(rows, family, methods)
        pairs = [(a, av) for a, av in av_vs_a_pairs(rows) if av.family == family and av.method == method]
        pairs = [(a, av) for a, av in pairs if av.rate(BABBLE_0, "wer") is not None and a.rate(BABBLE_0, "wer") is not None]
        if not pairs:
            out.append(f"- AV better than A at babble 0 dB ({family}): no A/AV pair scored at babble 0 dB.")
            continue
        a, av = min(pairs, key=lambda p: p[1].rate(BABBLE_0, "wer"))  # the best AV system of the family
        out.append(_sentence(f"AV better than A, {family}, best AV system", a, av, BABBLE_0, stats.compare(a, av, BABBLE_0)))
    return out


def _bilinear_vs_concat(rows, stats, methods) -> list[str]:
    out = []
    families = dict.fromkeys(r.family for r in plain_rows(rows))
    for family in families:
        method = representative_method(rows, family, methods)
        concat = find_row(rows, family, method, lambda r: r.fusion == "concat" or r.system == "hybrid_concat")
        bilinear = find_row(rows, family, method, lambda r: r.fusion == "bilinear" or r.system == "hybrid_bilinear")
        if concat is None or bilinear is None:
            continue
        for cond in (CLEAN, BABBLE_0):
            if concat.rate(cond, "wer") is not None and bilinear.rate(cond, "wer") is not None:
                out.append(_sentence(f"Bilinear fusion better than concatenation, {family}", concat, bilinear, cond,
                                     stats.compare(concat, bilinear, cond)))
    return out


def _best(rows: Sequence[SystemRow], families, cond: Condition) -> Optional[SystemRow]:
    scored = [r for r in plain_rows(rows) if r.family in families and r.rate(cond, "wer") is not None]
    return min(scored, key=lambda r: (r.rate(cond, "wer"), r.key)) if scored else None


def _hybrid_vs_e2e(rows, stats) -> list[str]:
    out = []
    for cond in (CLEAN, BABBLE_0):
        hybrid, e2e = _best(rows, ("hybrid",), cond), _best(rows, E2E, cond)
        if hybrid is None or e2e is None:
            continue
        out.append(_sentence("Best E2E system better than best hybrid system", hybrid, e2e, cond, stats.compare(hybrid, e2e, cond)))
    return out


def claims_section(rows: Sequence[SystemRow], stats: Statistics, methods: Mapping[str, str] = DEFAULT_E2E_METHODS) -> str:
    """Markdown bullet list; E2E families use their representative decoding method."""
    lines = _av_vs_a(rows, stats, methods) + _bilinear_vs_concat(rows, stats, methods) + _hybrid_vs_e2e(rows, stats)
    if not lines:
        return "No claim can be tested: the experiment directory lacks the systems they compare.\n"
    note = ("\n_Each claim reads \"the second system has the lower WER\"; p = share of paired bootstrap resamples "
            "(same utterances for both systems) where it does not. The \"best\" systems are picked on the same test "
            "set, so those comparisons are optimistic._\n")
    return "\n".join(lines) + "\n" + note
