"""Short sentences computed from the data: each states the numbers, the paired-bootstrap
probability and whether the claim holds; the wording is chosen by the numbers.

Rules that keep the claims honest:
* a "best" system is chosen on the **dev** set (same condition when dev was scored there, else
  clean dev), never on the test set the claim is tested on; without dev scores nothing is
  chosen and every candidate is listed;
* "AV helps" is tested against the AV model's **own no-video ablation** (the same model decoded
  with the video stream removed) when one was decoded, and against the audio-only system too;
* p-values come from the speaker-cluster bootstrap (speakers, then their utterances) wherever
  speaker labels exist; the utterance-bootstrap p is shown next to it;
* with seed runs (``<system>_seed<N>``) every claim also says for how many seeds it holds, with
  the mean and spread of the change; a claim that does not hold says so.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from avsr.leaderboard.conditions import CLEAN, Condition
from avsr.leaderboard.records import SystemRow
from avsr.leaderboard.significance import DEFAULT_E2E_METHODS, find_row, plain_rows, representative_method
from avsr.leaderboard.stats import Comparison, Statistics

BABBLE_0 = Condition("babble", 0.0)
E2E = ("CTC+attention", "transducer")


@dataclass
class ClaimData:
    """What the claims read: the main rows (test set), the dev-set rows (selection only), every
    row including seed runs, and the label of the main run's seed."""

    rows: Sequence[SystemRow]
    stats: Statistics
    dev_rows: Sequence[SystemRow] = ()
    all_rows: Sequence[SystemRow] = ()
    methods: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_E2E_METHODS))
    main_seed: str = "main"


def verdict(cmp: Comparison) -> str:
    """Whether "B has a lower error rate than A" holds, from the paired test (one-sided, 5 %)."""
    if cmp.paired.p_value < 0.05:
        return "**holds** (significant, p = %.3f)" % cmp.paired.p_value
    if cmp.b_significantly_worse:
        return "**does not hold**: the reverse is significant (p = %.3f)" % cmp.reverse.p_value
    if cmp.paired.delta < 0:
        return "holds in direction but is **not significant** (p = %.3f)" % cmp.paired.p_value
    return "**does not hold** (not significant either way, p = %.3f)" % cmp.paired.p_value


def _outcome(cmp: Comparison) -> str:
    if cmp.paired.p_value < 0.05:
        return "holds"
    if cmp.b_significantly_worse:
        return "reverse"
    return "direction" if cmp.paired.delta < 0 else "no"


def _resampling(cmp: Comparison) -> str:
    if cmp.resampling == "speaker":
        speakers = f"{cmp.num_speakers} speaker" + ("s" if cmp.num_speakers != 1 else ", i.e. its utterances only")
        return f"speaker-cluster bootstrap over {speakers}; utterance bootstrap: P = {cmp.utterance_p:.3f}"
    return "utterance bootstrap (no speaker labels)"


def _sentence(claim: str, a: SystemRow, b: SystemRow, cond: Condition, cmp: Optional[Comparison], note: str = "") -> str:
    name_a, name_b = a.key, b.key
    tail = f" {note}" if note else ""
    if cmp is None:
        return f"- {claim} ({cond.label}): cannot be tested, {name_a} and {name_b} share no scored utterances there.{tail}"
    rel, lo, hi = cmp.relative
    change = "reduction" if rel <= 0 else "increase"
    return (f"- {claim} ({cond.label}, {cmp.num_utts} utterances): WER {cmp.rate_a:.1f} % ({name_a}) → "
            f"{cmp.rate_b:.1f} % ({name_b}), relative {change} {abs(rel):.1f} % (95 % CI of the change "
            f"[{lo:+.1f}, {hi:+.1f}] % of the first WER); P({b.system} better) = {cmp.prob_b_better:.3f} "
            f"({_resampling(cmp)}): {verdict(cmp)}.{tail}")


def _seed_variants(data: ClaimData, row: SystemRow) -> dict[str, SystemRow]:
    """seed label -> the same row (system, method, dropped stream) in each seed run."""
    out = {data.main_seed: row}
    for r in data.all_rows:
        if r.seed is not None and r.base_key == row.base_key and r.dropped == row.dropped:
            out.setdefault(str(r.seed), r)
    return out


def _seeds_clause(data: ClaimData, a: SystemRow, b: SystemRow, cond: Condition) -> str:
    """"Over 3 seeds: holds (significant) in 2, ..." or "" with a single seed."""
    va, vb = _seed_variants(data, a), _seed_variants(data, b)
    seeds = [s for s in va if s in vb]
    cmps = [c for c in (data.stats.compare(va[s], vb[s], cond) for s in seeds) if c is not None]
    if len(cmps) < 2:
        return ""
    outcomes = [_outcome(c) for c in cmps]
    rel = [c.relative[0] for c in cmps if c.relative[0] == c.relative[0]]
    spread = (f"; relative change over seeds: mean {statistics.mean(rel):+.1f} %, sd {statistics.stdev(rel):.1f}, "
              f"range [{min(rel):+.1f}, {max(rel):+.1f}] %") if len(rel) >= 2 else ""
    parts = [f"holds (significant) in {outcomes.count('holds')}"]
    if outcomes.count("direction"):
        parts.append(f"in direction only in {outcomes.count('direction')}")
    if outcomes.count("reverse"):
        parts.append(f"the reverse is significant in {outcomes.count('reverse')}")
    if outcomes.count("no"):
        parts.append(f"does not hold in {outcomes.count('no')}")
    return f"Over {len(cmps)} seeds ({', '.join(seeds)}): " + ", ".join(parts) + spread + "."


def _claim(data: ClaimData, claim: str, a: SystemRow, b: SystemRow, cond: Condition, note: str = "") -> str:
    seeds = _seeds_clause(data, a, b, cond)
    return _sentence(claim, a, b, cond, data.stats.compare(a, b, cond), " ".join(x for x in (note, seeds) if x))


def dev_rate(data: ClaimData, row: SystemRow, cond: Condition) -> tuple[Optional[float], Optional[Condition]]:
    """The row's dev WER in ``cond`` if dev was scored there, else on clean dev, else (None, None)."""
    dev = next((r for r in data.dev_rows if r.key == row.key), None)
    if dev is None:
        return None, None
    for c in (cond, CLEAN):
        if dev.rate(c, "wer") is not None:
            return dev.rate(c, "wer"), c
    return None, None


def choose_on_dev(data: ClaimData, candidates: Sequence[SystemRow], cond: Condition) -> tuple[Optional[SystemRow], str]:
    """The candidate with the lowest dev WER (ties: the key) and a note saying how it was chosen;
    (None, reason) when not every candidate has a dev score."""
    rated = [(dev_rate(data, r, cond), r) for r in candidates]
    if not rated or any(rate is None for (rate, _), _ in rated):
        return None, "no dev scores for every candidate"
    used = {c for (_, c), _ in rated}
    (rate, c), best = min(rated, key=lambda x: (x[0][0], x[1].key))
    where = "dev " + (c.label if len(used) == 1 else "(" + ", ".join(sorted(u.label for u in used)) + ")")
    return best, f"(chosen on {where}: WER {rate:.1f} %)"


def control_of(rows: Sequence[SystemRow], av: SystemRow) -> tuple[Optional[SystemRow], Optional[SystemRow]]:
    """(the AV row to compare, its no-video ablation): the same system decoded with the video
    stream removed, with the AV row's method if that was decoded, else another method decoded
    both ways (both rows then use it). (None, None) when no ablation was decoded."""
    ablations = [r for r in rows if r.system == av.system and r.dropped == "video"]
    same = [r for r in ablations if r.method == av.method]
    if same:
        return av, same[0]
    for ab in ablations:
        full = next((r for r in plain_rows(rows) if r.system == av.system and r.method == ab.method), None)
        if full is not None:
            return full, ab
    return None, None


def _av_claims(data: ClaimData) -> list[str]:
    out = []
    rows = data.rows
    families = dict.fromkeys(r.family for r in plain_rows(rows) if r.base_modality == "AV")
    for family in families:
        method = representative_method(rows, family, data.methods)
        cands = [r for r in plain_rows(rows) if r.family == family and r.method == method and r.base_modality == "AV"
                 and r.rate(BABBLE_0, "wer") is not None]
        if not cands:
            out.append(f"- AV better than A at babble 0 dB ({family}): no AV system scored at babble 0 dB.")
            continue
        chosen, how = choose_on_dev(data, cands, BABBLE_0)
        targets = [chosen] if chosen else cands
        label = "AV system chosen on dev" if chosen else "each AV system (no dev scores: none is chosen)"
        for av in targets:
            full, ablation = control_of(rows, av)
            note = how if chosen else ""
            if ablation is not None and full.rate(BABBLE_0, "wer") is not None and ablation.rate(BABBLE_0, "wer") is not None:
                out.append(_claim(data, f"AV better than its own no-video ablation (control), {family}, {label}",
                                  ablation, full, BABBLE_0, note))
                note = ""
            else:
                note = (note + " " if note else "") + f"(no no-video ablation of {av.system} was decoded at babble 0 dB.)"
            a = find_row(rows, family, av.method, lambda r: r.modality == "A")
            if a is not None and a.rate(BABBLE_0, "wer") is not None:
                out.append(_claim(data, f"AV better than the audio-only system, {family}, {label}", a, av, BABBLE_0, note))
    return out


def _every_family(data: ClaimData) -> list[str]:
    """"Fusion helps every family": every AV system against its control at babble 0 dB."""
    tally, failed = [], []
    for av in plain_rows(data.rows):
        if av.base_modality != "AV" or av.rate(BABBLE_0, "wer") is None:
            continue
        if av.method != representative_method(data.rows, av.family, data.methods):
            continue
        full, control = control_of(data.rows, av)
        if control is None:
            full, control = av, find_row(data.rows, av.family, av.method, lambda r: r.modality == "A")
        cmp = data.stats.compare(control, full, BABBLE_0) if control is not None else None
        if cmp is None:
            continue
        tally.append(_outcome(cmp) == "holds")
        if _outcome(cmp) != "holds":
            what = {"reverse": "the reverse is significant", "direction": "not significant",
                    "no": "not significant"}[_outcome(cmp)]
            failed.append(f"{full.key} vs {control.key} ({what}, {cmp.rate_a:.1f} → {cmp.rate_b:.1f} %)")
    if not tally:
        return []
    head = (f"- AV fusion helps at babble 0 dB in {sum(tally)} of {len(tally)} AV systems (each against its no-video "
            "ablation, else the audio-only system of its family; significant at p < 0.05)")
    return [head + (": **does not hold** for " + "; ".join(failed) + "." if failed else ": holds for every one.")]


def _bilinear_vs_concat(data: ClaimData) -> list[str]:
    out = []
    rows = data.rows
    for family in dict.fromkeys(r.family for r in plain_rows(rows)):
        method = representative_method(rows, family, data.methods)
        concat = find_row(rows, family, method, lambda r: r.fusion == "concat" or r.system == "hybrid_concat")
        bilinear = find_row(rows, family, method, lambda r: r.fusion == "bilinear" or r.system == "hybrid_bilinear")
        if concat is None or bilinear is None:
            continue
        for cond in (CLEAN, BABBLE_0):
            if concat.rate(cond, "wer") is not None and bilinear.rate(cond, "wer") is not None:
                out.append(_claim(data, f"Bilinear fusion better than concatenation, {family}", concat, bilinear, cond))
    return out


def _hybrid_vs_e2e(data: ClaimData) -> list[str]:
    out = []
    for cond in (CLEAN, BABBLE_0):
        groups = {}
        for name, families in (("hybrid", ("hybrid",)), ("E2E", E2E)):
            cands = [r for r in plain_rows(data.rows) if r.family in families and r.rate(cond, "wer") is not None]
            groups[name] = (cands, *choose_on_dev(data, cands, cond)) if cands else None
        if not groups["hybrid"] or not groups["E2E"]:
            continue
        (_, hybrid, how_h), (_, e2e, how_e) = groups["hybrid"], groups["E2E"]
        if hybrid is None or e2e is None:
            out.append(f"- Best E2E system better than best hybrid system ({cond.label}): not tested, the systems "
                       "cannot be chosen on dev (no dev scores for every candidate).")
            continue
        out.append(_claim(data, "Best E2E system better than best hybrid system", hybrid, e2e, cond,
                          f"Hybrid {how_h}; E2E {how_e}."))
    return out


def claims_section(data: ClaimData) -> str:
    """Markdown bullet list; E2E families use their representative decoding method."""
    lines = _av_claims(data) + _every_family(data) + _bilinear_vs_concat(data) + _hybrid_vs_e2e(data)
    if not lines:
        return "No claim can be tested: the experiment directory lacks the systems they compare.\n"
    note = ("\n_Each claim reads \"the second system has the lower WER\"; p = share of paired bootstrap resamples "
            "(same speakers and utterances for both systems) where it does not. \"Best\" systems are chosen on the dev "
            "set, never on the test set they are compared on._\n")
    return "\n".join(lines) + "\n" + note
