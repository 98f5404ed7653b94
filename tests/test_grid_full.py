"""egs/grid pieces that need no models: the standard speaker splits (sizes, disjointness,
determinism), the CMUdict lexicon, and the download stage offline (the network is mocked)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.error
import zipfile
from pathlib import Path

import pytest

from avsr.corpora.grid.grammar import grid_vocabulary
from avsr.corpora.grid.prepare import find_grid_clips, prepare_grid
from avsr.corpora.grid.download import (
    ALL_SPEAKERS,
    GridDownloadError,
    download_grid,
    missing_pieces,
    parse_speakers,
)
from avsr.corpora.grid.lexicon import grid_cmudict_lexicon, write_grid_lexicon
from avsr.corpora.grid.splits import LIPNET_TEST_SPEAKERS, SplitConfig, default_overlapped_sizes, make_split, write_split
from avsr.data.records import read_records
from tests.conftest import GRID_SAMPLE, copy_grid_sample

REPO = Path(__file__).resolve().parents[1]

# The full corpus layout: 33 speakers with video (s21 has none) x 1000 sentences.
FULL = {f"{spk}_u{k:04d}": spk for spk in ALL_SPEAKERS if spk != "s21" for k in range(1000)}


def _by_split(split) -> dict[str, set[str]]:
    return {name: set(split.utts(name)) for name in ("train", "dev", "test")}


# ---- splits -------------------------------------------------------------------------------

def test_unseen_split_holds_out_whole_speakers():
    split = make_split(FULL, SplitConfig("unseen"))
    parts = _by_split(split)
    assert {FULL[u] for u in parts["test"]} == set(LIPNET_TEST_SPEAKERS) and len(parts["test"]) == 4000
    assert {FULL[u] for u in parts["dev"]} == {"s3", "s4"} and len(parts["dev"]) == 2000
    assert len(parts["train"]) == 27 * 1000
    speakers = {name: {FULL[u] for u in utts} for name, utts in parts.items()}
    assert not (speakers["train"] & speakers["test"]) and not (speakers["train"] & speakers["dev"])
    with pytest.raises(ValueError, match="both dev and test"):
        SplitConfig("unseen", dev_speakers=("s1",), test_speakers=("s1",))


def test_overlapped_split_sizes_disjointness_and_determinism():
    split = make_split(FULL, SplitConfig("overlapped", seed=7))
    parts = _by_split(split)
    # LipNet: 255 random test sentences from each of the 33 speakers (8415); ours: 25 dev each.
    assert (len(parts["test"]), len(parts["dev"]), len(parts["train"])) == (33 * 255, 33 * 25, 33 * 720)
    assert not (parts["test"] & parts["dev"]) and not (parts["test"] & parts["train"]) and not (parts["dev"] & parts["train"])
    assert set().union(*parts.values()) == set(FULL)
    for spk in ("s1", "s34"):  # every speaker is in every split (overlapped), with the fixed counts
        assert sum(FULL[u] == spk for u in parts["test"]) == 255 and sum(FULL[u] == spk for u in parts["dev"]) == 25
    # Random, not the first 255 names:
    assert sorted(u for u in parts["test"] if FULL[u] == "s1") != [f"s1_u{k:04d}" for k in range(255)]

    assert make_split(FULL, SplitConfig("overlapped", seed=7)).assignment == split.assignment  # same seed, same split
    other = make_split(FULL, SplitConfig("overlapped", seed=8))
    assert other.assignment != split.assignment and len(other.utts("test")) == 8415
    # A speaker's draw depends only on (seed, speaker): dropping other speakers changes nothing.
    only_s5 = {u: s for u, s in FULL.items() if s == "s5"}
    sub = make_split(only_s5, SplitConfig("overlapped", seed=7))
    assert sub.assignment == {u: split.assignment[u] for u in only_s5}
    # Input order does not matter either.
    reversed_input = dict(reversed(list(FULL.items())))
    assert make_split(reversed_input, SplitConfig("overlapped", seed=7)).assignment == split.assignment


def test_overlapped_default_sizes_follow_the_folder_size():
    # A 400-clip single-speaker folder (the s1 fixture): 300 train / 25 dev / 75 test; a full speaker: LipNet's.
    folder = {f"s1_u{k:03d}": "s1" for k in range(400)}
    split = make_split(folder, SplitConfig("overlapped", seed=5))
    assert {n: len(u) for n, u in _by_split(split).items()} == {"train": 300, "dev": 25, "test": 75}
    assert make_split(folder, SplitConfig("overlapped", seed=5)).assignment == split.assignment
    assert default_overlapped_sizes(1000) == (255, 25) and default_overlapped_sizes(80) == (15, 5)
    # Given sizes win; every protocol's record says what it used.
    given = make_split(folder, SplitConfig("overlapped", seed=5, test_per_speaker=10, dev_per_speaker=0))
    assert len(given.utts("test")) == 10 and not given.utts("dev")


def test_split_record_in_the_index_dir(tmp_path):
    speaker_of = {f"{s}_u{k}": s for s in ("s1", "s2", "s3") for k in range(10)}
    split = make_split(speaker_of, SplitConfig("overlapped", seed=1, test_per_speaker=3, dev_per_speaker=1))
    info = write_split(split, speaker_of, tmp_path)
    on_disk = json.loads((tmp_path / "split.json").read_text())
    assert on_disk == info and on_disk["protocol"] == "overlapped"
    assert on_disk["config"] == {"protocol": "overlapped", "seed": 1, "test_per_speaker": 3, "dev_per_speaker": 1}
    assert on_disk["per_speaker"]["s2"] == {"train": 6, "dev": 1, "test": 3}
    assert on_disk["splits"]["test"] == {"utterances": 9, "speakers": ["s1", "s2", "s3"]}
    rows = [line.split("\t") for line in (tmp_path / "split_utts.tsv").read_text().splitlines()]
    assert len(rows) == 30 and {tuple(r[:2]) for r in rows} == set(speaker_of.items())
    assert {r[0]: r[2] for r in rows} == split.assignment


def test_overlapped_split_on_the_real_clips(tmp_path):
    corpus = copy_grid_sample(tmp_path / "grid")
    # One clip per speaker: with one test sentence per speaker both clips are test.
    splits = prepare_grid(corpus, tmp_path / "wav", tmp_path / "index",
                          split=SplitConfig("overlapped", seed=3, test_per_speaker=1, dev_per_speaker=0))
    assert sorted(r.utt_id for r in splits["test"]) == ["id2_swwp2s", "s1_bbaf2n"] and not splits["train"]
    assert sorted(r.utt_id for r in read_records(tmp_path / "index" / "test.jsonl")) == ["id2_swwp2s", "s1_bbaf2n"]
    assert json.loads((tmp_path / "index" / "split.json").read_text())["splits"]["test"]["utterances"] == 2


def test_prepare_cli_split_options(tmp_path):
    corpus = copy_grid_sample(tmp_path / "grid")
    cmd = [sys.executable, str(REPO / "egs/grid/local/prepare_grid.py"), "--corpus-dir", str(corpus), "--out-audio-dir",
           str(tmp_path / "wav"), "--index-dir", str(tmp_path / "index"), "--split", "overlapped", "--test-per-speaker", "0",
           "--dev-per-speaker", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr
    assert sorted(r.utt_id for r in read_records(tmp_path / "index" / "dev.jsonl")) == ["id2_swwp2s", "s1_bbaf2n"]


# ---- lexicon ------------------------------------------------------------------------------

def test_cmudict_covers_all_51_grid_words(tmp_path):
    lexicon = grid_cmudict_lexicon()
    assert sorted(lexicon.words) == sorted(grid_vocabulary()) and len(lexicon.words) == 51
    assert ("B", "IH", "N") in lexicon.prons("bin") and ("EY",) in lexicon.prons("a")
    assert all(not p[-1].isdigit() for e in lexicon.entries for p in e.phones)  # stress removed
    path = tmp_path / "lexicon.txt"
    write_grid_lexicon(path)
    lines = path.read_text().splitlines()
    assert len(lines) == len(lexicon.entries) and "soon S UW N" in lines


# ---- download (offline: the network function is mocked) ------------------------------------

def _no_network(url: str, dest: Path) -> None:
    raise AssertionError(f"network used for {url}")


def test_download_with_everything_present_does_nothing(tmp_path):
    corpus = copy_grid_sample(tmp_path / "grid")
    before = {p: p.stat().st_mtime_ns for p in corpus.rglob("*")}
    assert download_grid(corpus, ["s1"], fetch=_no_network) == []
    assert missing_pieces(corpus, ["s1"]) == []
    assert {p: p.stat().st_mtime_ns for p in corpus.rglob("*")} == before  # nothing written, nothing touched


def test_download_lists_missing_pieces(tmp_path):
    corpus = copy_grid_sample(tmp_path / "grid")
    missing = missing_pieces(corpus, parse_speakers("1-2 21"))
    assert [(p.speaker, p.kind) for p in missing] == [("s2", "video"), ("s2", "align"), ("s21", "align")]  # s21: no video exists
    assert missing[0].url == "https://spandh.dcs.shef.ac.uk/gridcorpus/s2/video/s2.mpg_vcd.zip"
    assert missing[1].url == "https://spandh.dcs.shef.ac.uk/gridcorpus/s2/align/s2.tar"
    assert [p.speaker for p in missing_pieces(tmp_path / "empty")].count("s5") == 2 and len(missing_pieces(tmp_path / "empty")) == 67
    assert download_grid(corpus, ["s1", "s2"], fetch=_no_network, dry_run=True) == missing[:2]
    (corpus / "alignments" / "s1" / "bbaf2n.align").unlink()  # a speaker dir without .align files
    assert [(p.speaker, p.kind) for p in missing_pieces(corpus, ["s1"])] == [("s1", "align")]


def test_download_without_network_is_a_one_line_error(tmp_path):
    def offline(url: str, dest: Path) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    with pytest.raises(GridDownloadError) as excinfo:
        download_grid(tmp_path / "grid", ["s3"], fetch=offline)
    message = str(excinfo.value)
    assert "\n" not in message and "download failed" in message and "Name or service not known" in message
    assert "s3/video/s3.mpg_vcd.zip" in message and "s3/align/s3.tar" in message and "by hand" in message
    # The CLI says the same in one line (real network call on an unreachable mirror address).
    proc = subprocess.run([sys.executable, str(REPO / "egs/grid/local/download_grid.py"), "--corpus-dir", str(tmp_path / "g"),
                           "--speakers", "s3", "--base-url", "http://127.0.0.1:9/gridcorpus"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "127.0.0.1:9/gridcorpus/s3/align/s3.tar" in errors[0]


def _archives_from_the_sample(downloads: Path) -> None:
    """s1.mpg_vcd.zip / s1.tar as the site serves them (inner folders differ; both are handled)."""
    downloads.mkdir(parents=True)
    with zipfile.ZipFile(downloads / "s1.mpg_vcd.zip", "w") as zf:
        zf.write(GRID_SAMPLE / "s1" / "bbaf2n.mpg", "s1/bbaf2n.mpg")
    with tarfile.open(downloads / "s1.tar", "w") as tf:
        data = (GRID_SAMPLE / "alignments" / "s1" / "bbaf2n.align").read_bytes()
        info = tarfile.TarInfo("align/bbaf2n.align")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))


def test_download_fetches_only_what_is_missing_and_unpacks_to_the_prep_layout(tmp_path):
    corpus = tmp_path / "grid"
    source = tmp_path / "site"
    _archives_from_the_sample(source)
    fetched = []

    def fake_fetch(url: str, dest: Path) -> None:
        fetched.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((source / dest.name).read_bytes())

    pieces = download_grid(corpus, ["s1"], fetch=fake_fetch)
    assert [p.kind for p in pieces] == ["video", "align"] and len(fetched) == 2
    (clip,) = find_grid_clips(corpus)
    assert clip.video_path == corpus / "s1" / "bbaf2n.mpg" and clip.align_path == corpus / "alignments" / "s1" / "bbaf2n.align"
    assert clip.video_path.read_bytes() == (GRID_SAMPLE / "s1" / "bbaf2n.mpg").read_bytes()
    # Second run: everything present, no fetch.
    assert download_grid(corpus, ["s1"], fetch=_no_network) == []
    # An archive already downloaded is unpacked without fetching; existing files are never replaced.
    mtime = clip.video_path.stat().st_mtime_ns
    for p in (corpus / "alignments" / "s1").iterdir():
        p.unlink()
    assert [p.kind for p in download_grid(corpus, ["s1"], fetch=_no_network)] == ["align"]
    assert clip.video_path.stat().st_mtime_ns == mtime and clip.align_path.is_file()


def test_corrupt_archive_names_the_file(tmp_path):
    downloads = tmp_path / "grid" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "s1.mpg_vcd.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (downloads / "s1.tar").write_bytes(b"garbage")
    with pytest.raises(Exception) as excinfo:
        download_grid(tmp_path / "grid", ["s1"], fetch=_no_network)
    assert "s1.mpg_vcd.zip" in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert not (tmp_path / "grid" / "s1").exists()  # nothing half-unpacked


def test_parse_speakers():
    assert parse_speakers("all") == list(ALL_SPEAKERS) and len(ALL_SPEAKERS) == 34
    assert parse_speakers("s1 s2") == ["s1", "s2"]
    assert parse_speakers("1-3,20 s22 s2") == ["s1", "s2", "s3", "s20", "s22"]
    assert parse_speakers("s1-s3") == ["s1", "s2", "s3"]
