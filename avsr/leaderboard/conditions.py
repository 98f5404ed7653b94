"""Test conditions (clean, babble/white noise at an SNR) parsed from set names, and the
column order every table and plot uses: clean, then babble 20 … -5 dB, then white 20 … -5 dB."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# noises in column order; any other noise type found in a set name goes after these
NOISE_ORDER = ("babble", "white")
_NOISY_SET = re.compile(r"^(?P<base>.*?)_(?P<noise>[A-Za-z]+)_snr(?P<snr>-?\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Condition:
    """One test condition: ``noise`` is "clean" (``snr`` None) or a noise type with its SNR in dB."""

    noise: str
    snr: Optional[float] = None

    @property
    def is_clean(self) -> bool:
        return self.noise == "clean"

    @property
    def label(self) -> str:
        """Column header: ``clean`` or ``babble 0 dB``."""
        return "clean" if self.is_clean else f"{self.noise} {self.snr:g} dB"

    @property
    def sort_key(self) -> tuple:
        if self.is_clean:
            return (0, 0, 0.0)
        rank = NOISE_ORDER.index(self.noise) if self.noise in NOISE_ORDER else len(NOISE_ORDER)
        return (1 + rank, self.noise, -float(self.snr))  # high SNR (easy) first


CLEAN = Condition("clean")


def parse_set_name(set_name: str) -> tuple[str, Condition]:
    """``test_babble_snr-5`` → ("test", babble -5 dB); ``test`` → ("test", clean)."""
    m = _NOISY_SET.match(set_name)
    if not m:
        return set_name, CLEAN
    return m.group("base"), Condition(m.group("noise"), float(m.group("snr")))


def ordered(conditions) -> list[Condition]:
    """Distinct conditions in table-column order."""
    return sorted(set(conditions), key=lambda c: c.sort_key)
