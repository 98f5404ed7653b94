"""Test conditions (clean, babble/white noise at an SNR) parsed from set names, and the
column order every table and plot uses: clean, then the clean speaker subsets (e.g. unseen
accents), then babble 20 … -5 dB, then white 20 … -5 dB, then other noises (e.g. the training
babble)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# noises in column order; any other noise type found in a set name goes after these
NOISE_ORDER = ("babble", "white")
_NOISY_SET = re.compile(r"^(?P<base>.*?)_(?P<noise>[A-Za-z]+)_snr(?P<snr>-?\d+(?:\.\d+)?)$")
# Clean sets of other speakers scored as a column of their split's table: ``test_unseenaccent``
# (the embedded corpus's speakers whose accent training never heard) -> test, "unseen accents".
SUBSET_LABELS = {"unseenaccent": "unseen accents"}
# Noise types whose set-name spelling is not their column name (stage 2's matched sets).
NOISE_LABELS = {"babblematched": "babble {snr} dB (training noise)"}


@dataclass(frozen=True)
class Condition:
    """One test condition: ``noise`` is "clean" (``snr`` None) or a noise type with its SNR in dB;
    ``subset`` names a clean set of other speakers (e.g. "unseenaccent"), "" for the split itself."""

    noise: str
    snr: Optional[float] = None
    subset: str = ""

    @property
    def is_clean(self) -> bool:
        """The split's own clean set (a speaker subset is clean audio but not this condition)."""
        return self.noise == "clean" and not self.subset

    @property
    def label(self) -> str:
        """Column header: ``clean``, ``unseen accents`` or ``babble 0 dB``."""
        if self.subset:
            return SUBSET_LABELS.get(self.subset, self.subset)
        if self.is_clean:
            return "clean"
        return NOISE_LABELS.get(self.noise, "{noise} {snr} dB").format(noise=self.noise, snr=f"{self.snr:g}")

    @property
    def sort_key(self) -> tuple:
        if self.is_clean:
            return (0, 0, 0.0)
        if self.subset:
            return (0, 1, self.subset)
        rank = NOISE_ORDER.index(self.noise) if self.noise in NOISE_ORDER else len(NOISE_ORDER)
        return (1 + rank, self.noise, -float(self.snr))  # high SNR (easy) first


CLEAN = Condition("clean")


def parse_set_name(set_name: str) -> tuple[str, Condition]:
    """``test_babble_snr-5`` → ("test", babble -5 dB); ``test`` → ("test", clean);
    ``test_unseenaccent`` → ("test", unseen accents)."""
    m = _NOISY_SET.match(set_name)
    if not m:
        base, _, subset = set_name.rpartition("_")
        if base and subset in SUBSET_LABELS:
            return base, Condition("clean", subset=subset)
        return set_name, CLEAN
    return m.group("base"), Condition(m.group("noise"), float(m.group("snr")))


def ordered(conditions) -> list[Condition]:
    """Distinct conditions in table-column order."""
    return sorted(set(conditions), key=lambda c: c.sort_key)
