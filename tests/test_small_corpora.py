"""Corpora far smaller than the embedded one (a few clips, as in the LRS3 fixture): training
batches and the leaderboard's error bars must still work."""
from __future__ import annotations

from pathlib import Path

from lhotse import CutSet

from avsr.leaderboard.plots import _error_bar
from avsr.score.bootstrap import Interval
from avsr.train.data import bucketing_batches
from avsr.corpora.toy.feature_corpus import make_synthetic_cuts


def test_bucketing_with_fewer_cuts_than_buckets(tmp_path: Path):
    paths = make_synthetic_cuts(tmp_path, {"train": 2})
    cuts = CutSet.from_file(paths["train"])
    batches = bucketing_batches(cuts, max_duration=30.0, num_buckets=5, epoch=1, seed=0)
    assert sorted(i for b in batches for i in b) == sorted(cuts.ids)


def test_error_bars_are_never_negative():
    assert _error_bar(10.0, Interval(10.0, 8.0, 13.0)) == (2.0, 3.0)
    # a summary rate outside its interval (recomputed differently) gets no bar on that side
    assert _error_bar(0.0, Interval(0.0, 1.0, 3.0)) == (0.0, 3.0)
    assert _error_bar(5.0, None) == (0.0, 0.0)
