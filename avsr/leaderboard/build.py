"""The leaderboard in one call: collect score files → tables, tests, claims, plots → RESULTS.md."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

from avsr.leaderboard.claims import ClaimData, claims_section
from avsr.leaderboard.collect import collect_rows
from avsr.leaderboard.header import git_commit, header_lines, utc_now
from avsr.leaderboard.learning_curves import collect_curves, plot_learning_curves
from avsr.leaderboard.plots import plot_fusion_frame_per, plot_wer_vs_snr
from avsr.leaderboard.provenance import marks_note, provenance_marks, provenance_section
from avsr.leaderboard.records import SystemRow
from avsr.leaderboard.render import decode_dirs_note, notes_section, per_word_note, plot_links, section, speakers_in
from avsr.leaderboard.seeds import seed_table, split_seed_rows
from avsr.leaderboard.significance import DEFAULT_E2E_METHODS, significance_table
from avsr.leaderboard.stats import Statistics
from avsr.leaderboard.tables import failures_note, has_metric, metric_table
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_text_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class LeaderboardOptions:
    exp: PathLike = "exp"
    out: PathLike = "RESULTS.md"
    plots_dir: Optional[PathLike] = None  # default <exp>/plots
    split: str = "test"
    dev_split: str = "dev"  # where "best" systems are chosen for the claims
    lexicon: Optional[PathLike] = "data/lang_espeak/lexicon.txt"
    command: Optional[str] = None
    date: Optional[str] = None  # default: now, UTC
    preset: Optional[str] = None
    seed: Optional[str] = None
    repo_dir: PathLike = "."  # git commit and --conf paths are read relative to this (the recipe dir)
    e2e_methods: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_E2E_METHODS))
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0
    sync_report: Optional[PathLike] = None  # data/video/sync_report.json (stage 4): one header line


@dataclass
class Leaderboard:
    markdown: str
    wer_table: str
    plots: list[Path]
    num_rows: int


def frame_groups(rows: Sequence[SystemRow]) -> list[tuple[str, list[SystemRow]]]:
    """Rows with a frame error, grouped by their targets (a mono and a tri frame error are two
    metrics). Old score files without targets: GMM rows alone, hybrid rows together."""
    groups: dict[str, list[SystemRow]] = {}
    for r in rows:
        if has_metric(r, "frame_per"):
            label = r.frame_targets or (f"{r.system} (targets not recorded)" if r.family == "GMM"
                                        else f"{r.family} (targets not recorded)")
            groups.setdefault(label, []).append(r)
    return list(groups.items())


def _dev_rows(opts: LeaderboardOptions) -> list[SystemRow]:
    try:
        return [r for r in collect_rows(opts.exp, opts.dev_split, opts.lexicon) if r.seed is None]
    except AvsrInputError:  # no dev scores at all: the claims then choose nothing
        return []


def _sync_line(report: Optional[PathLike]) -> list[str]:
    if report is None:
        return []
    from avsr.sync.report import header_line

    line = header_line(report)
    return [line] if line else [f"- AV sync QA: not run (no {report})"]


def build_leaderboard(opts: LeaderboardOptions) -> Leaderboard:
    """Write ``opts.out`` (atomically) and the plots; returns the page and the WER table."""
    exp, out = Path(opts.exp), Path(opts.out)
    plots_dir = Path(opts.plots_dir) if opts.plots_dir else exp / "plots"
    all_rows = collect_rows(exp, opts.split, opts.lexicon)
    rows, _ = split_seed_rows(all_rows)  # the tables show each system's main run
    log.info("%d leaderboard rows (+%d of seed runs) from %s", len(rows), len(all_rows) - len(rows), exp)
    stats = Statistics(opts.bootstrap_samples, opts.bootstrap_seed)
    page_state = git_commit(Path(opts.repo_dir))
    systems = list(dict.fromkeys(r.system for r in all_rows))
    marks = provenance_marks(exp, systems, page_state)
    wer = metric_table(rows, "wer", stats, marks)
    cell_note = (f"Test set `{opts.split}` and its noisy copies. Cells: rate % [95 % bootstrap interval over utterances, "
                 f"{opts.bootstrap_samples} resamples]; `–` = not scored; a rate without brackets had no per-utterance "
                 "counts; <sup>N</sup> = searches that failed (see the note under the table).")
    plots = plot_wer_vs_snr(rows, stats, plots_dir, opts.e2e_methods)
    frame_plot = plot_fusion_frame_per(rows, stats, plots_dir)
    plots += [frame_plot] if frame_plot else []
    curves_plot = plot_learning_curves(collect_curves(exp), plots_dir / "learning_curves.png")
    plots += [curves_plot] if curves_plot else []
    methods_note = ", ".join(f"{k}: `{v}`" for k, v in opts.e2e_methods.items())
    frame_tables = [section(f"Frame state classification error (%), targets {label}",
                            "Share of frames whose highest-scoring HMM state is not the state of the forced alignment "
                            "of the clean utterance (the seed paper's \"frame PER\", for senone targets a senone / "
                            f"CD-state classification error): a classification error over the {label.split(': ')[-1]} "
                            "of this target set, not a phone error rate of a decoding.",
                            metric_table(group, "frame_per", stats, marks))
                    for label, group in frame_groups(rows)]
    dev_rows = _dev_rows(opts)
    # "main": the main run trains each family with its own seed (hybrid: its conf; E2E: --seed)
    claim_data = ClaimData(rows, stats, dev_rows, all_rows, opts.e2e_methods, "main")
    seeds = seed_table(all_rows)
    parts = [
        "\n".join(header_lines(opts.command, opts.date or utc_now(), page_state, opts.preset, opts.seed)[:-1]
                  + _sync_line(opts.sync_report) + [""]),
        section("WER (%)", cell_note, wer, failures_note(rows, "wer"), marks_note(marks, page_state), decode_dirs_note(rows)),
        section("PER (%), phone-level decoding", "Phones decoded directly (GMM / hybrid systems through a phone-bigram "
                "graph, in the conditions the recipe decodes phones; E2E models with phone outputs). " + cell_note,
                metric_table(rows, "per", stats, marks) or "No system was decoded at the phone level.",
                failures_note(rows, "per")),
        section("PER (%) of the word hypotheses", "The word hypotheses (and references) mapped to phones with the "
                "lexicon: a different metric from phone-level decoding (the word graph constrains it). " + cell_note,
                metric_table(rows, "per_word", stats, marks) or "No system has a word-hypothesis PER.",
                failures_note(rows, "per_word"), per_word_note(rows)),
        *(frame_tables or [section("Frame state classification error (%)", "No system has a frame error.")]),
        section("AV vs audio-only", "WER: Δ of the AV system minus the audio-only system of the same family and decoding "
                "method, in points (relative to the audio-only WER), and P = the paired speaker-cluster bootstrap "
                "probability that AV is better (see Notes); **better** / **worse** = AV is significantly better / "
                "worse at p < 0.05 (one-sided each way; identical outputs are neither).",
                significance_table(rows, stats) or "No family has both an audio-only and an AV system.",
                "Frame state classification error, the same test (hybrid systems, same targets):",
                significance_table(rows, stats, "frame_per") or "No A/AV pair has frame error counts."),
        section("Claims (computed from the tables above)", f"Representative E2E decoding methods: {methods_note} "
                "(falling back to the first decoded method).", claims_section(claim_data)),
        section("Seeds", "WER mean ± sd (number of seeds) over the main run and its `_seed<N>` runs.", seeds) if seeds else "",
        section("Notes on the numbers", notes_section(rows, opts.bootstrap_samples, opts.bootstrap_seed, speakers_in(rows))),
        section("Plots", plot_links(plots, out)),
        section("Provenance", provenance_section(exp, systems, Path(opts.repo_dir), page_state)),
        "Speed and memory benchmarks are not part of this page: see `bench/`.\n",
    ]
    markdown = "\n".join(p.rstrip("\n") + "\n" for p in parts if p)
    write_text_atomic(out, markdown)
    return Leaderboard(markdown, wer, plots, len(rows))
