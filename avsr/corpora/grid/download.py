"""Fetch the GRID corpus from its official site, only what is missing.

Per speaker the official site (https://spandh.dcs.shef.ac.uk/gridcorpus/) offers
``s<N>/video/s<N>.mpg_vcd.zip`` (1000 normal-quality .mpg videos, 360x288, 25 fps, with the
audio track we use) and ``s<N>/align/s<N>.tar`` (1000 word alignments, .align). Speaker 21
has no video. The separate audio archives (``s<N>/audio/s<N>.tar``, 25 kHz, and
``s<N>_50kHz.tar``) are not needed: stage 0 takes the audio track of each .mpg.

What counts as present (never fetched again, never touched): a speaker's video is present
when ``<corpus>/<spk>/`` holds any ``.mpg`` (either layout prepare_grid accepts), its
alignments when ``<corpus>/alignments/<spk>/`` or ``<corpus>/<spk>/align/`` holds any ``.align``.
An archive already in ``<corpus>/downloads/`` is unpacked without fetching it again.
Unpacking goes to a temporary directory that is renamed into place only when complete, so an
interrupted run leaves no half speaker behind.
"""
from __future__ import annotations

import logging
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

from tqdm import tqdm

from avsr.utils.errors import AvsrInputError

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

OFFICIAL_BASE_URL = "https://spandh.dcs.shef.ac.uk/gridcorpus"
ALL_SPEAKERS: tuple[str, ...] = tuple(f"s{n}" for n in range(1, 35))
SPEAKERS_WITHOUT_VIDEO = frozenset({"s21"})
KINDS = ("video", "align")
DOWNLOADS_SUBDIR = "downloads"
_SUFFIX = {"video": ".mpg", "align": ".align"}


class GridDownloadError(AvsrInputError):
    """The network is unreachable or a fetch failed: the message lists what to fetch by hand."""


@dataclass(frozen=True)
class GridPiece:
    """One archive of one speaker: its URL, where it is kept, where its files end up."""

    speaker: str
    kind: str  # "video" | "align"
    url: str
    archive_name: str

    def archive_path(self, corpus_dir: PathLike) -> Path:
        return Path(corpus_dir) / DOWNLOADS_SUBDIR / self.archive_name

    def target_dir(self, corpus_dir: PathLike) -> Path:
        """Where the unpacked files go (the official layout prepare_grid reads)."""
        root = Path(corpus_dir)
        return root / self.speaker if self.kind == "video" else root / "alignments" / self.speaker


def speaker_pieces(speaker: str, base_url: str = OFFICIAL_BASE_URL) -> list[GridPiece]:
    """The archives one speaker needs (no video piece for s21)."""
    pieces = []
    if speaker not in SPEAKERS_WITHOUT_VIDEO:
        pieces.append(GridPiece(speaker, "video", f"{base_url}/{speaker}/video/{speaker}.mpg_vcd.zip", f"{speaker}.mpg_vcd.zip"))
    pieces.append(GridPiece(speaker, "align", f"{base_url}/{speaker}/align/{speaker}.tar", f"{speaker}.tar"))
    return pieces


def _has_files(folder: Path, suffix: str) -> bool:
    return folder.is_dir() and any(p.suffix == suffix for p in folder.iterdir())


def piece_present(piece: GridPiece, corpus_dir: PathLike) -> bool:
    """Are this piece's files already unpacked (in either layout prepare_grid accepts)?"""
    root = Path(corpus_dir)
    if piece.kind == "video":
        places = [root / piece.speaker, root / piece.speaker / "video" / "mpg_6000"]
    else:
        places = [root / "alignments" / piece.speaker, root / piece.speaker / "align", root / "align" / piece.speaker]
    return any(_has_files(p, _SUFFIX[piece.kind]) for p in places)


def missing_pieces(corpus_dir: PathLike, speakers: Iterable[str] = ALL_SPEAKERS,
                   base_url: str = OFFICIAL_BASE_URL) -> list[GridPiece]:
    """Every archive of ``speakers`` whose files are not unpacked in ``corpus_dir`` yet."""
    return [p for spk in speakers for p in speaker_pieces(spk, base_url) if not piece_present(p, corpus_dir)]


def fetch_url(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest`` (via ``dest.part``, renamed when complete)."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
    part.rename(dest)


def _members(archive: Path) -> Iterable[tuple[str, Callable[[], bytes]]]:
    """(member name, reader) for every regular file in a .zip or .tar archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, (lambda i=info: zf.read(i))
    else:
        with tarfile.open(archive) as tf:
            for member in tf:
                if member.isfile():
                    yield member.name, (lambda m=member: tf.extractfile(m).read())


def unpack_piece(piece: GridPiece, corpus_dir: PathLike) -> int:
    """Unpack the piece's archive into its target dir; returns the number of files placed.

    Only files with the piece's suffix are kept, flattened to ``<target>/<utt><suffix>`` (the
    archives' inner folders differ between mirrors). Files already in the target are kept as
    they are (never overwritten).
    """
    archive, target = piece.archive_path(corpus_dir), piece.target_dir(corpus_dir)
    tmp = target.with_name(f".{target.name}.{piece.kind}.unpacking")
    if tmp.exists():
        shutil.rmtree(tmp)  # our own leftover from an interrupted run
    tmp.mkdir(parents=True)
    count = 0
    try:
        for name, read in _members(archive):
            base = Path(name).name
            if Path(base).suffix != _SUFFIX[piece.kind] or base.startswith("."):
                continue
            (tmp / base).write_bytes(read())
            count += 1
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        detail = (str(err).splitlines() or [""])[0].rstrip(":")  # tarfile lists every method tried, one per line
        raise AvsrInputError(archive, f"corrupt or truncated archive ({type(err).__name__}: {detail}); delete it and re-run") from None
    if count == 0:
        shutil.rmtree(tmp)
        raise AvsrInputError(archive, f"archive holds no {_SUFFIX[piece.kind]} files")
    if not target.exists():
        tmp.rename(target)
    else:  # e.g. <spk>/ already holds align/: add the new files, never replace an existing one
        for f in sorted(tmp.iterdir()):
            if not (target / f.name).exists():
                f.rename(target / f.name)
        shutil.rmtree(tmp)
    return count


def _manual_instructions(pieces: Sequence[GridPiece], corpus_dir: Path) -> str:
    listed = ", ".join(p.url for p in pieces[:4]) + (f" and {len(pieces) - 4} more" if len(pieces) > 4 else "")
    return (f"fetch {len(pieces)} GRID archive(s) by hand into {corpus_dir / DOWNLOADS_SUBDIR}/ "
            f"(names as on the site: s<N>.mpg_vcd.zip, s<N>.tar) and re-run: {listed}")


def download_grid(corpus_dir: PathLike, speakers: Sequence[str] = ALL_SPEAKERS, base_url: str = OFFICIAL_BASE_URL,
                  fetch: Callable[[str, Path], None] = fetch_url, dry_run: bool = False) -> list[GridPiece]:
    """Fetch and unpack what ``speakers`` still miss in ``corpus_dir``; returns the pieces handled.

    Present pieces are left alone (nothing fetched, nothing rewritten); an archive already in
    ``downloads/`` is only unpacked. With ``dry_run`` nothing is fetched or written: the
    missing pieces are returned. A network failure raises GridDownloadError whose one-line
    message says what to fetch by hand.
    """
    corpus_dir = Path(corpus_dir)
    unknown = [s for s in speakers if s not in ALL_SPEAKERS]
    if unknown:
        raise AvsrInputError(None, f"unknown GRID speaker(s) {' '.join(unknown)}: GRID has s1..s34")
    todo = missing_pieces(corpus_dir, speakers, base_url)
    if not todo:
        logger.info("GRID in %s: everything present for %d speaker(s), nothing to do", corpus_dir, len(speakers))
        return []
    logger.info("GRID in %s: %d archive(s) missing: %s", corpus_dir, len(todo), " ".join(p.archive_name for p in todo))
    if dry_run:
        return todo
    for k, piece in enumerate(todo):
        archive = piece.archive_path(corpus_dir)
        if not archive.is_file():
            try:
                fetch(piece.url, archive)
            except (urllib.error.URLError, OSError, TimeoutError) as err:
                reason = getattr(err, "reason", None) or err
                raise GridDownloadError(piece.url, f"download failed ({reason}); {_manual_instructions(todo[k:], corpus_dir)}") from None
        n = unpack_piece(piece, corpus_dir)
        logger.info("%s: %d files -> %s", piece.archive_name, n, piece.target_dir(corpus_dir))
    return todo


def parse_speakers(spec: Optional[str]) -> list[str]:
    """``"all"``/None -> every speaker; ``"s1 s2"`` or ``"1-4,20"`` -> those speakers."""
    if not spec or spec.strip() == "all":
        return list(ALL_SPEAKERS)
    out: list[str] = []
    for token in spec.replace(",", " ").split():
        try:
            bounds = [int(part.strip().lstrip("s")) for part in token.split("-", 1)]
        except ValueError:
            raise AvsrInputError(None, f"bad speaker {token!r}: use e.g. 's1 s2', '1-4,20' or 'all'") from None
        out.extend(f"s{n}" for n in range(bounds[0], bounds[-1] + 1))
    return list(dict.fromkeys(out))
