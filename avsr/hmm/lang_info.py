"""What GMM-HMM training needs from a lang directory (steps/prepare_lang.py output):
phone and word tables, L.fst, disambiguation ids, HMM topology, silence phones."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import kaldifst

from avsr.lang.symbols import SymbolTable, read_symbol_table
from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]


def _read_ints(path: Path) -> list[int]:
    if not path.is_file():
        return []
    return [int(x) for x in path.read_text().split()]


@dataclass
class LangInfo:
    lang_dir: Path
    phones: SymbolTable
    words: SymbolTable
    topo_text: str
    disambig_ids: list[int]
    silence_ids: list[int]

    @classmethod
    def load(cls, lang_dir: PathLike) -> "LangInfo":
        lang_dir = Path(lang_dir)
        for name in ("phones.txt", "words.txt", "topo", "L.fst"):
            if not (lang_dir / name).is_file():
                raise AvsrInputError(lang_dir / name, "missing from the lang directory: run steps/prepare_lang.py (stage 5)")
        return cls(
            lang_dir,
            read_symbol_table(lang_dir / "phones.txt"),
            read_symbol_table(lang_dir / "words.txt"),
            (lang_dir / "topo").read_text(),
            _read_ints(lang_dir / "phones" / "disambig.int"),
            _read_ints(lang_dir / "phones" / "silence.int"),
        )

    def lexicon_fst(self) -> kaldifst.StdVectorFst:
        fst = kaldifst.StdVectorFst.read(str(self.lang_dir / "L.fst"))
        kaldifst.arcsort(fst, sort_type="olabel")
        return fst

    def real_phone_ids(self) -> list[int]:
        """Every phone id except <eps> and disambiguation symbols."""
        return [i for s, i in self.phones if i != 0 and not s.startswith("#")]

    def word_ids(self, words: Sequence[str], utt: str = "") -> list[int]:
        missing = [w for w in words if w not in self.words]
        if missing:
            raise AvsrInputError(utt or None, f"word(s) {' '.join(missing)} not in {self.lang_dir / 'words.txt'} (OOV)")
        return [self.words[w] for w in words]


def phone_num_states(topo_text: str) -> dict[int, int]:
    """Number of emitting HMM states (pdf classes) of every phone in a topology."""
    import kaldi_hmm_gmm as khg

    topo = khg.HmmTopology()
    topo.read(topo_text)
    counts = topo.get_phone_to_num_pdf_classes()
    return {int(p): int(counts[p]) for p in topo.phones}
