"""The leaderboard in one call: collect score files → tables, tests, claims, plots → RESULTS.md."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from avsr.leaderboard.claims import claims_section
from avsr.leaderboard.collect import collect_rows
from avsr.leaderboard.header import git_commit, header_lines, utc_now
from avsr.leaderboard.plots import plot_fusion_frame_per, plot_wer_vs_snr
from avsr.leaderboard.provenance import provenance_section
from avsr.leaderboard.render import decode_dirs_note, per_source_note, plot_links, section
from avsr.leaderboard.significance import DEFAULT_E2E_METHODS, significance_table
from avsr.leaderboard.stats import Statistics
from avsr.leaderboard.tables import metric_table
from avsr.utils.io import write_text_atomic

PathLike = Union[str, Path]
log = logging.getLogger(__name__)


@dataclass
class LeaderboardOptions:
    exp: PathLike = "exp"
    out: PathLike = "RESULTS.md"
    plots_dir: Optional[PathLike] = None  # default <exp>/plots
    split: str = "test"
    lexicon: Optional[PathLike] = "data/lang_espeak/lexicon.txt"
    command: Optional[str] = None
    date: Optional[str] = None  # default: now, UTC
    preset: Optional[str] = None
    seed: Optional[str] = None
    repo_dir: PathLike = "."  # git commit and --conf paths are read relative to this (the recipe dir)
    e2e_methods: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_E2E_METHODS))
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0


@dataclass
class Leaderboard:
    markdown: str
    wer_table: str
    plots: list[Path]
    num_rows: int


def build_leaderboard(opts: LeaderboardOptions) -> Leaderboard:
    """Write ``opts.out`` (atomically) and the plots; returns the page and the WER table."""
    exp, out = Path(opts.exp), Path(opts.out)
    plots_dir = Path(opts.plots_dir) if opts.plots_dir else exp / "plots"
    rows = collect_rows(exp, opts.split, opts.lexicon)
    log.info("%d leaderboard rows from %s", len(rows), exp)
    stats = Statistics(opts.bootstrap_samples, opts.bootstrap_seed)
    wer = metric_table(rows, "wer", stats)
    cell_note = (f"Test set `{opts.split}` and its noisy copies. Cells: rate % [95 % bootstrap interval over utterances, "
                 f"{opts.bootstrap_samples} resamples]; `–` = not scored; a rate without brackets had no per-utterance counts.")
    plots = plot_wer_vs_snr(rows, stats, plots_dir, opts.e2e_methods)
    frame_plot = plot_fusion_frame_per(rows, stats, plots_dir)
    plots += [frame_plot] if frame_plot else []
    systems = list(dict.fromkeys(r.system for r in rows))
    methods_note = ", ".join(f"{k}: `{v}`" for k, v in opts.e2e_methods.items())
    parts = [
        "\n".join(header_lines(opts.command, opts.date or utc_now(), git_commit(Path(opts.repo_dir)), opts.preset, opts.seed)),
        section("WER (%)", cell_note, wer, decode_dirs_note(rows)),
        section("PER (%)", cell_note, metric_table(rows, "per", stats) or "No system has a PER.", per_source_note(rows)),
        section("Frame PER (%)", "CD-state frame classification error against the forced alignment of the clean "
                "utterance (the seed paper's metric); GMM and hybrid systems only.",
                metric_table(rows, "frame_per", stats) or "No system has a frame PER."),
        section("AV vs audio-only", "WER: Δ of the AV system minus the audio-only system of the same family and decoding "
                "method, in points (relative to the audio-only WER), and P = the paired-bootstrap probability that AV is "
                "better (same utterances resampled for both); **better** / **worse** = AV is significantly better / "
                "worse at p < 0.05 (one-sided paired bootstrap each way; identical outputs are neither).",
                significance_table(rows, stats) or "No family has both an audio-only and an AV system.",
                "Frame PER, the same test on CD-state frame errors (hybrid systems):",
                significance_table(rows, stats, "frame_per") or "No A/AV pair has frame error counts."),
        section("Claims (computed from the tables above)", f"Representative E2E decoding methods: {methods_note} "
                "(falling back to the first decoded method).", claims_section(rows, stats, opts.e2e_methods)),
        section("Plots", plot_links(plots, out)),
        section("Provenance", provenance_section(exp, systems, Path(opts.repo_dir))),
        "Speed and memory benchmarks are not part of this page: see `bench/`.\n",
    ]
    markdown = "\n".join(p.rstrip("\n") + "\n" for p in parts)
    write_text_atomic(out, markdown)
    return Leaderboard(markdown, wer, plots, len(rows))
