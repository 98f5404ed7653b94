"""Leaderboard (run.sh stage 14): every score file under exp/ → RESULTS.md + plots.

collect.py (read score files) → stats.py (bootstrap intervals, paired tests) → tables.py,
significance.py, claims.py (markdown) → plots.py (PNG) → render.py / build.py (the page)."""
from avsr.leaderboard.build import Leaderboard, LeaderboardOptions, build_leaderboard
from avsr.leaderboard.collect import collect_rows

__all__ = ["Leaderboard", "LeaderboardOptions", "build_leaderboard", "collect_rows"]
