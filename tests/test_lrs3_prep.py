"""egs/lrs3 stage 0 on a tiny corpus in LRS3's layout, the .txt parser, the cutting of long
pretrain clips, and the generic stages 1-3 on the result."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import yaml
from lhotse import CutSet, validate

from avsr.corpora.lrs3.prepare import (
    Lrs3Clip,
    assign_split,
    choose_dev_speakers,
    espeak_to_arpabet,
    find_lrs3_clips,
    normalize_words,
    parse_lrs3_txt,
    plan_segments,
    prepare_clip,
)
from avsr.corpora.lrs3.fixture import FIXTURE_CLIPS, write_lrs3_fixture
from avsr.data.records import read_records
from avsr.data.types import Segment
from avsr.utils.errors import AvsrInputError
from avsr.video.io import probe_video

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ENV = dict(os.environ, PYTHONPATH=str(REPO), PATH=f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}")
MAX_SECONDS = 4  # the fixture's long pretrain clips (~8 s, three sentences) must be cut


def _digest(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lrs3") / "LRS3"
    write_lrs3_fixture(root)
    return root


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory) -> dict:
    """egs/lrs3/run.sh stage 0 on the fixture (dev = one trainval speaker)."""
    out = tmp_path_factory.mktemp("lrs3_out")
    before = _digest(corpus)
    proc = subprocess.run(
        ["bash", str(REPO / "egs/lrs3/run.sh"), "--lrs3-root", str(corpus), "--stop-stage", "0", "--dev-size", "1",
         "--max-seconds", str(MAX_SECONDS), "--data", str(out / "data"), "--exp", str(out / "exp")],
        capture_output=True, text=True, env=ENV, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"data": out / "data", "index": out / "data/local/lrs3", "before": before, "after": _digest(corpus)}


def _one_line_error(excinfo, path: Path, fragment: str) -> None:
    err = excinfo.value
    assert Path(err.path) == path and "\n" not in str(err) and str(err).startswith(str(path))
    assert fragment in err.problem, err.problem


# ---- stage 0 on the fixture ------------------------------------------------------------------

def test_stage0_records_splits_and_untouched_corpus(prepared, corpus):
    assert prepared["after"] == prepared["before"]  # same files, bytes and mtimes: the corpus is only read
    index = prepared["index"]
    splits = {s: read_records(index / f"{s}.jsonl") for s in ("train", "dev", "test")}
    # 2 long pretrain clips -> 3 segments each, + 2 short pretrain + 3 trainval of the other speaker.
    assert {s: len(r) for s, r in splits.items()} == {"train": 11, "dev": 3, "test": 2}
    speakers = {s: {r.speaker for r in recs} for s, recs in splits.items()}
    assert not (speakers["train"] & speakers["dev"]) and not (speakers["train"] | speakers["dev"]) & speakers["test"]
    assert speakers["test"] == set(FIXTURE_CLIPS["test"])
    split_info = json.loads((index / "split.json").read_text())
    assert split_info["dev_speakers"] == sorted(speakers["dev"]) and split_info["utterances"]["train"] == 11
    assert (index / "bad_cuts.txt").read_text() == ""

    (test_rec,) = [r for r in splits["test"] if r.utt_id.endswith("_test_00001")]
    assert test_rec.text == "the ocean covers most of the planet"  # LRS3 upper case -> our lower case
    assert [w.symbol for w in test_rec.words] == test_rec.text.split()
    txt = corpus / "test" / test_rec.speaker / "00001.txt"
    first_row = txt.read_text().splitlines()[4].split()
    assert test_rec.words[0].start == pytest.approx(float(first_row[1])) and test_rec.video_path == str((txt.with_suffix(".mp4")).resolve())
    for rec in [r for recs in splits.values() for r in recs]:
        info = sf.info(rec.audio_path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert not Path(rec.audio_path).is_relative_to(corpus) and Path(rec.audio_path).is_relative_to(prepared["data"].resolve())
        video = probe_video(rec.video_path)
        assert abs(video.num_frames - info.duration * video.fps) <= 1  # what stage 1 checks
        assert all(0 <= w.start <= w.end <= info.duration + 1e-6 for w in rec.words)
    assert any("it's" in r.text.split() for r in splits["train"])

    lexicon = {line.split()[0]: line.split()[1:] for line in (index / "lexicon.txt").read_text().splitlines()}
    all_words = {w for recs in splits.values() for r in recs for w in r.text.split()}
    assert set(lexicon) == all_words  # every word of every split (stage 6 aligns dev and test too), each pronounced
    assert lexicon["water"] in (["W", "AO", "T", "ER"], ["W", "AA", "T", "ER"])  # CMUdict, stress removed
    assert lexicon["zorbly"][0] == "Z" and all(p.isupper() for p in lexicon["zorbly"])  # not in CMUdict: espeak


def test_long_pretrain_clip_is_cut_at_pauses(prepared, corpus):
    train = read_records(prepared["index"] / "train.jsonl")
    speaker = "0kTq-9vXw_A"
    pieces = [r for r in train if r.utt_id.startswith(f"{speaker}_pretrain_00001_")]
    assert [r.text for r in pieces] == FIXTURE_CLIPS["pretrain"][speaker][0]  # one sentence per piece: cut in the pauses
    original = parse_lrs3_txt(corpus / "pretrain" / speaker / "00001.txt")
    assert [w.symbol for r in pieces for w in r.words] == original.words
    for rec in pieces:
        duration = sf.info(rec.audio_path).duration
        assert duration <= MAX_SECONDS and rec.words[0].start >= 0.1 and rec.words[-1].end <= duration
        assert Path(rec.video_path).parent == prepared["data"].resolve() / "lrs3" / "video" / "pretrain" / speaker
    # Word times are relative to the piece: the second piece starts ~0.25 s before "it's".
    assert pieces[1].words[0].symbol == "it's" and 0.15 <= pieces[1].words[0].start <= 0.35


def test_steps_1_to_3_make_valid_manifests_with_features(prepared, tmp_path):
    data = prepared["data"]
    noise = yaml.safe_load((REPO / "conf/noise.yaml").read_text())
    noise.update(noise_types=["white"], snrs_db=[0])
    noise["multi_condition_train"]["enabled"] = False
    (tmp_path / "noise.yaml").write_text(yaml.safe_dump(noise))
    steps = [
        ["steps/make_manifests.py", "--index-dir", f"{data}/local/lrs3", "--corpus", "lrs3", "--out-dir", f"{data}/manifests",
         "--vocabulary", "none", "--nj", "1"],
        ["steps/make_noisy_sets.py", "--manifest-dir", f"{data}/manifests", "--corpus", "lrs3", "--noise-dir", f"{data}/noise",
         "--conf", str(tmp_path / "noise.yaml"), "--seed", "1"],
        ["steps/compute_features.py", "--manifest-dir", f"{data}/manifests", "--corpus", "lrs3", "--out-dir", f"{data}/fbank",
         "--video-dir", f"{data}/video", "--index-dir", f"{data}/local/lrs3", "--conf", "conf/features.yaml", "--nj", "1"],
    ]
    for step in steps:
        proc = subprocess.run([PYTHON, *step], cwd=REPO, capture_output=True, text=True, env=ENV, timeout=120)
        assert proc.returncode == 0, f"{step[0]}: {proc.stderr[-3000:]}"
    for split, count in (("train", 11), ("dev", 3), ("test", 2)):
        validate(CutSet.from_file(data / "manifests" / f"lrs3_cuts_{split}.jsonl.gz"), read_data=True)
        assert len(CutSet.from_file(data / "fbank" / f"lrs3_cuts_{split}.jsonl.gz")) == count
    assert (data / "manifests" / "lrs3_bad_cuts_train.txt").read_text() == ""
    cut = CutSet.from_file(data / "fbank" / "lrs3_cuts_test.jsonl.gz")[0]
    assert cut.supervisions[0].text == "the ocean covers most of the planet"
    assert [a.symbol for a in cut.supervisions[0].alignment["word"]][:2] == ["the", "ocean"]
    assert cut.load_features().shape[1] == 80 and cut.load_mfcc().shape[1] == 24
    assert abs(cut.load_mouth_roi().shape[0] * 0.04 - cut.duration) <= 0.04
    assert CutSet.from_file(data / "fbank" / "lrs3_cuts_test_white_snr0.jsonl.gz")[0].load_features().shape[1] == 80
    stats = json.loads((data / "video" / "roi_stats.json").read_text())
    assert stats["face_fraction"] >= 0.9  # the rendered faces are found


# ---- splits ---------------------------------------------------------------------------------

def test_dev_speakers_are_whole_trainval_speakers_and_leave_train(corpus):
    clips = find_lrs3_clips(corpus)
    assert choose_dev_speakers(clips, 1, seed=5) == choose_dev_speakers(clips, 1, seed=5)  # deterministic
    trainval_ids = set(FIXTURE_CLIPS["trainval"])
    chosen = {s: choose_dev_speakers(clips, 1, seed=s) for s in range(8)}
    assert all(len(ids) == 1 and set(ids) <= trainval_ids for ids in chosen.values())
    assert {ids[0] for ids in chosen.values()} == trainval_ids  # the seed changes the choice
    assert set(choose_dev_speakers(clips, 4, seed=0)) == trainval_ids  # 3 clips each: both needed for 4
    shared = "Zr4_bN8c-Lm"  # has pretrain and trainval clips, as a TED talk in LRS3 does
    split_of = {(c.subset, c.clip): assign_split(c, {shared}, set(FIXTURE_CLIPS["test"])) for c in clips if c.video_id == shared}
    assert split_of == {("pretrain", "00001"): None, ("pretrain", "00002"): None,
                        ("trainval", "00001"): "dev", ("trainval", "00002"): "dev", ("trainval", "00003"): "dev"}


# ---- the .txt parser and text normalisation ------------------------------------------------------

def test_normalize_words():
    assert normalize_words("IT'S  {LG} A TEST, ISN'T IT?  'QUOTED' {NS}") == ["it's", "a", "test", "isn't", "it", "quoted"]
    assert normalize_words("ROCK\u2019N\u2019ROLL  <unk>") == ["rock'n'roll"]


def test_parse_txt_with_reference_and_face_box_tables(tmp_path):
    txt = tmp_path / "00007.txt"
    txt.write_text(
        "Text:  WELL {LG} IT'S FINE\nConf:  4\nRef:   abcdEFGhijk\n\n"
        "FRAME \tX \tY \tW \tH \n000001 \t0.40 \t0.25 \t0.20 \t0.36 \n000002 \t0.40 \t0.25 \t0.20 \t0.36 \n\n"
        "WORD START END ASDSCORE\nWELL 0.10 0.30 5.1\n{LG} 0.30 0.60 2.0\nIT'S 0.70 0.90 6.0\nFINE 0.90 1.25 7.2\n"
    )
    t = parse_lrs3_txt(txt)
    assert t.text == "well it's fine" and t.conf == "4"
    assert [(s.symbol, s.start, s.end) for s in t.alignment] == [("well", 0.1, 0.3), ("it's", 0.7, 0.9), ("fine", 0.9, 1.25)]
    txt.write_text("Text:  JUST TEXT\nConf:  2\n")  # no word table: no timings
    assert parse_lrs3_txt(txt).alignment == [] and parse_lrs3_txt(txt).text == "just text"


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("Conf:  3\n\nWORD START END ASDSCORE\nHI 0.1 0.2 3.0\n", "no 'Text:' line"),
        ("", "no 'Text:' line"),
        ("Text:  \nConf:  3\n", "empty transcript"),
        ("Text:  {NS} ...\nConf:  3\n", "empty transcript"),
        ("Text:  HI THERE\nConf:  3\n\nWORD START END ASDSCORE\nHI 0.1 0.2 3.0\nTHERE 0.3 oops 3.0\n", "line 6: expected 'WORD START END ASDSCORE'"),
        ("Text:  HI THERE\nConf:  3\n\nWORD START END ASDSCORE\nHI 0.1 0.2\n", "line 5: expected"),
        ("Text:  HI THERE\nConf:  3\n\nWORD START END ASDSCORE\nHI 0.5 0.2 3.0\n", "line 5: bad word times"),
        ("Text:  HI THERE\nConf:  3\n\nWORD START END ASDSCORE\nHI 0.5 0.6 3.0\nTHERE 0.2 0.3 1.0\n", "before the previous word"),
        ("Text:  HI\nConf:  3\n\nsome free text here\n", "unexpected line"),
    ],
)
def test_malformed_txt_is_a_one_line_error_naming_the_file(tmp_path, content, fragment):
    txt = tmp_path / "00001.txt"
    txt.write_text(content)
    with pytest.raises(AvsrInputError) as excinfo:
        parse_lrs3_txt(txt)
    _one_line_error(excinfo, txt, fragment)


def test_bad_clip_errors_and_corpus_mode_lists_them(corpus, tmp_path):
    # A private copy of two clips: one with a broken .txt, one whose .txt is missing.
    broken = tmp_path / "LRS3"
    src = corpus / "trainval" / "Hh2-Yp7QeT0"
    for name in ("00001", "00002"):
        (broken / "trainval" / "Hh2-Yp7QeT0").mkdir(parents=True, exist_ok=True)
        (broken / "trainval" / "Hh2-Yp7QeT0" / f"{name}.mp4").write_bytes((src / f"{name}.mp4").read_bytes())
    bad_txt = broken / "trainval" / "Hh2-Yp7QeT0" / "00001.txt"
    bad_txt.write_text("Text:  HELLO\nConf:  3\n\nWORD START END ASDSCORE\nHELLO zero 0.5 3.0\n")
    clip = Lrs3Clip("trainval", "Hh2-Yp7QeT0", "00001", bad_txt.with_suffix(".mp4"), bad_txt)
    with pytest.raises(AvsrInputError) as excinfo:
        prepare_clip(clip, tmp_path / "media")
    _one_line_error(excinfo, bad_txt, "line 5")

    base = [PYTHON, str(REPO / "egs/lrs3/local/prepare_lrs3.py"), "--corpus-dir", str(broken), "--subsets", "trainval"]
    proc = subprocess.run(base + ["--media-dir", str(tmp_path / "media"), "--index-dir", str(tmp_path / "index"), "--no-lexicon"],
                          capture_output=True, text=True, env=ENV, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reasons = sorted(line.split("\t")[2] for line in (tmp_path / "index" / "bad_cuts.txt").read_text().splitlines())
    assert len(reasons) == 2 and reasons[0].startswith("line 5") and "transcript file missing" in reasons[1]
    inside = subprocess.run(base + ["--media-dir", str(broken / "out"), "--index-dir", str(tmp_path / "i2")],
                            capture_output=True, text=True, env=ENV, timeout=60)
    assert inside.returncode == 1 and "never write into the corpus" in inside.stderr and not (broken / "out").exists()
    missing = subprocess.run(base[:-2] + ["--check"], capture_output=True, text=True, env=ENV, timeout=60)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "no clips in pretrain/, test/" in missing.stderr and "robots.ox.ac.uk" in missing.stderr


# ---- cutting plan --------------------------------------------------------------------------------

def test_plan_segments_cuts_at_the_longest_pause_within_the_limit():
    # 12 words of 0.4 s; pauses of 0.1 s except a 1.0 s pause after word 5 and a 0.6 s one after word 8.
    words, t = [], 0.0
    for i in range(12):
        words.append(Segment(f"w{i}", t, t + 0.4))
        t += 0.4 + {5: 1.0, 8: 0.6}.get(i, 0.1)
    plan = plan_segments(words, max_seconds=6.0, pad=0.25)
    assert [[w.symbol for w in seg.words] for seg in plan] == [[f"w{i}" for i in range(6)], [f"w{i}" for i in range(6, 12)]]
    for a, b in zip(plan, plan[1:]):
        assert a.end <= b.start  # no overlap: each side keeps at most half of the pause
    assert all(seg.end - seg.start <= 6.0 for seg in plan)
    assert plan[0].start == 0.0 and plan[1].start == pytest.approx(words[6].start - 0.25)
    (whole,) = plan_segments(words, max_seconds=100.0)
    assert whole.words == tuple(words) and whole.start == 0.0 and whole.end == pytest.approx(words[-1].end + 0.25)
    long_word = [Segment("loooong", 0.0, 9.0), Segment("x", 9.1, 9.3)]
    assert [len(s.words) for s in plan_segments(long_word, 3.0)] == [1, 1]  # a word longer than the limit stays whole


def test_espeak_to_arpabet_mapping():
    assert espeak_to_arpabet(["z", "O@", "b", "l", "i"]) == ["Z", "AO", "R", "B", "L", "IY"]
    assert espeak_to_arpabet(["t#", "I2", "r-", "@5", "??x"]) == ["T", "IH", "R", "AH"]
