"""egs/custom stage 0: lhotse manifests (built here from the 8 kHz yes/no fixture, in mixed case,
without a dev split) -> 16 kHz wavs + the UttRecord index with a carved dev set."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from avsr.corpora.custom.prepare import carve_dev, prepare_custom
from avsr.data.manifests import build_manifests, record_to_manifests
from avsr.data.records import read_records
from avsr.data.types import UttRecord
from avsr.corpora.yesno.fixture import YesNoFixtureConfig, generate_yesno_fixture
from avsr.utils.errors import AvsrInputError
from tests.conftest import make_clip

ROOT = Path(__file__).resolve().parents[1]
WORDS = {"0": "no", "1": "yes"}
LEXICON = "YES j E s\nNo n oU\nyes j E s\n"  # mixed case; the last line repeats the first once lower-cased


def _mixed_case(bits: list[str]) -> str:
    return " ".join(w.upper() if k % 3 == 0 else w.capitalize() if k % 3 == 1 else w for k, w in enumerate(WORDS[b] for b in bits))


def _write(manifest_dir: Path, corpus: str, split: str, recordings: list, sups: list) -> None:
    manifest_dir.mkdir(parents=True, exist_ok=True)
    RecordingSet.from_recordings(recordings).to_file(manifest_dir / f"{corpus}_recordings_{split}.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(manifest_dir / f"{corpus}_supervisions_{split}.jsonl.gz")


def _manifests(wavs: list[Path], out: Path, with_speakers: bool = True, extra_train_sup=None) -> Path:
    """lhotse manifests: the first 6 clips train, the rest test; speakers = the fixture's 4 voices."""
    splits = {"train": wavs[:6], "test": wavs[6:]}
    for split, files in splits.items():
        recs, sups = [], []
        for i, wav in enumerate(files):
            rec = Recording.from_file(wav, recording_id=f"{split}_{wav.stem}")
            recs.append(rec)
            sups.append(SupervisionSegment(id=rec.id, recording_id=rec.id, start=0.0, duration=rec.duration, channel=0,
                                           text=_mixed_case(wav.stem.split("_")),
                                           speaker=f"voice{wavs.index(wav) % 4}" if with_speakers else None))
        if split == "train" and extra_train_sup is not None:
            sups.append(extra_train_sup(recs[0]))
        _write(out, "myyesno", split, recs, sups)
    return out


@pytest.fixture(scope="module")
def fixture_wavs(tmp_path_factory) -> list[Path]:
    return generate_yesno_fixture(tmp_path_factory.mktemp("yn") / "wavs", YesNoFixtureConfig(num_clips=10, seed=5))


def test_manifests_to_index_with_dev_carved_by_speaker(fixture_wavs, tmp_path):
    manifests = _manifests(fixture_wavs, tmp_path / "manifests")
    (tmp_path / "lexicon.txt").write_text(LEXICON)
    (tmp_path / "lm.txt").write_text("YES yes No\n\nno NO\n")
    summary = prepare_custom(manifests, tmp_path / "lexicon.txt", tmp_path / "wav", tmp_path / "idx",
                             lm_text_path=tmp_path / "lm.txt", seed=1)
    idx = tmp_path / "idx"
    splits = {s: read_records(idx / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert summary["corpus"] == "myyesno" and summary["dev"] == "carved from train by speaker"
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [len(splits["train"]), len(splits["dev"]), 4]
    assert len(splits["train"]) + len(splits["dev"]) == 6 and splits["dev"]
    dev_speakers = {r.speaker for r in splits["dev"]}
    assert len(dev_speakers) == 1 and not dev_speakers & {r.speaker for r in splits["train"]}
    for rec in [r for rs in splits.values() for r in rs]:
        src = next(w for w in fixture_wavs if rec.utt_id.endswith(w.stem))
        assert rec.text == " ".join(WORDS[b] for b in src.stem.split("_")) and rec.video_path is None
        info = sf.info(rec.audio_path)
        assert (info.samplerate, info.channels) == (16000, 1) and info.frames == 2 * sf.info(str(src)).frames
    assert (idx / "lexicon.txt").read_text() == "yes j E s\nno n oU\n"
    assert (idx / "lm_text.txt").read_text() == "yes yes no\nno no\n"
    # The same inputs give the same split; another seed may hold out another speaker, never a partial one.
    again = prepare_custom(manifests, tmp_path / "lexicon.txt", tmp_path / "wav2", tmp_path / "idx2",
                           lm_text_path=tmp_path / "lm.txt", seed=1)
    assert again["splits"] == summary["splits"]
    assert [r.utt_id for r in read_records(tmp_path / "idx2" / "dev.jsonl")] == [r.utt_id for r in splits["dev"]]


def test_dev_by_utterance_without_speakers_and_lm_text_default(fixture_wavs, tmp_path):
    manifests = _manifests(fixture_wavs, tmp_path / "manifests", with_speakers=False)
    (tmp_path / "lexicon.txt").write_text(LEXICON)
    summary = prepare_custom(manifests, tmp_path / "lexicon.txt", tmp_path / "wav", tmp_path / "idx")
    assert summary["dev"] == "carved from train by utterance"
    assert {s: v["utterances"] for s, v in summary["splits"].items()} == {"train": 5, "dev": 1, "test": 4}  # ~10 %, at least one
    train = read_records(tmp_path / "idx" / "train.jsonl")
    assert all(r.speaker == r.utt_id for r in train)  # unknown speaker: each utterance its own (Kaldi's convention)
    assert (tmp_path / "idx" / "lm_text.txt").read_text().splitlines() == [r.text for r in train]  # train only, not dev


def test_missing_words_are_one_error_and_nothing_is_written(fixture_wavs, tmp_path):
    def oov(rec):
        return SupervisionSegment(id="extra", recording_id=rec.id, start=0.0, duration=1.0, text="Yes MAYBE okay")
    manifests = _manifests(fixture_wavs, tmp_path / "manifests", extra_train_sup=oov)
    (tmp_path / "lexicon.txt").write_text(LEXICON)
    (tmp_path / "lm.txt").write_text("yes Perhaps\n")
    with pytest.raises(AvsrInputError) as err:
        prepare_custom(manifests, tmp_path / "lexicon.txt", tmp_path / "wav", tmp_path / "idx", lm_text_path=tmp_path / "lm.txt")
    assert err.value.path == str(tmp_path / "lexicon.txt")
    assert err.value.problem.startswith("3 word(s) missing from the lexicon (in train transcripts: maybe okay; in LM text")
    assert "perhaps" in err.value.problem
    assert not (tmp_path / "wav").exists() and not (tmp_path / "idx").exists()
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    proc = subprocess.run(["python", "egs/custom/local/prepare_custom.py", "--manifests", str(manifests), "--lexicon",
                           str(tmp_path / "lexicon.txt"), "--out-audio-dir", str(tmp_path / "w"), "--index-dir", str(tmp_path / "i")],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'lexicon.txt'}: 2 word(s) missing from the lexicon (in train transcripts: maybe okay): add them and re-run"
    assert not (tmp_path / "i").exists()


def test_segments_empty_transcripts_and_a_given_dev_split(tmp_path):
    t = np.arange(3 * 22050) / 22050
    (tmp_path / "src").mkdir()
    sf.write(tmp_path / "src" / "long.flac", (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 22050)
    rec = Recording.from_file(tmp_path / "src" / "long.flac", recording_id="long")
    seg = lambda i, start, text, spk="a": SupervisionSegment(id=f"long-{i}", recording_id="long", start=start, duration=1.0,
                                                             text=text, speaker=spk)
    m = tmp_path / "m"
    _write(m, "c", "train", [rec], [seg(0, 0.0, "Yes"), seg(1, 1.5, "no YES"), seg(2, 2.0, "  ")])
    _write(m, "c", "dev", [rec], [seg(3, 0.5, "no")])
    _write(m, "c", "test", [rec], [seg(4, 1.0, "yes no")])
    (tmp_path / "lex.txt").write_text(LEXICON)
    summary = prepare_custom(m, tmp_path / "lex.txt", tmp_path / "wav", tmp_path / "idx")
    assert summary["dev"] == "manifest" and summary["num_bad"] == 1
    assert {s: v["utterances"] for s, v in summary["splits"].items()} == {"train": 2, "dev": 1, "test": 1}
    train = read_records(tmp_path / "idx" / "train.jsonl")
    assert [r.text for r in train] == ["yes", "no yes"]
    for r in train:
        assert sf.info(r.audio_path).frames == 16000  # 1 s segments of a 22.05 kHz flac -> 16 kHz
    a, _ = sf.read(train[1].audio_path)
    ref = 0.3 * np.sin(2 * np.pi * 300 * (1.5 + np.arange(16000) / 16000))
    assert np.abs(a[100:-100] - ref[100:-100]).max() < 0.01  # the right stretch, resampled faithfully
    assert (tmp_path / "idx" / "bad_cuts.txt").read_text().startswith("long-2\t")
    assert "empty transcript" in (tmp_path / "idx" / "bad_cuts.txt").read_text()


def test_video_is_kept_for_av_and_required(tmp_path):
    clips = [make_clip(tmp_path / "c", f"u{i}", f"s{i}", "yes no", seed=i) for i in range(3)]
    for split, part in (("train", clips[:2]), ("test", clips[2:])):
        pairs = [record_to_manifests(c) for c in part]  # recordings with a wav source and an mp4 video source
        _write(tmp_path / "m", "av", split, [r for r, _ in pairs], [s for _, s in pairs])
    (tmp_path / "lex.txt").write_text(LEXICON)
    prepare_custom(tmp_path / "m", tmp_path / "lex.txt", tmp_path / "wav", tmp_path / "idx", modality="av")
    records = [r for s in ("train", "dev", "test") for r in read_records(tmp_path / "idx" / f"{s}.jsonl")]
    assert sorted(Path(r.video_path).name for r in records) == ["u0.mp4", "u1.mp4", "u2.mp4"]
    recordings, _, cuts, bad = build_manifests(records, vocabulary=None)  # stage 1 accepts them as AV clips
    assert not bad and all(r.has_video for r in recordings)

    audio_only = tmp_path / "m2"
    for split in ("train", "test"):
        rec = Recording.from_file(clips[0].audio_path, recording_id=f"{split}0")
        _write(audio_only, "a", split, [rec], [SupervisionSegment(f"{split}0", rec.id, 0.0, rec.duration, text="yes")])
    with pytest.raises(AvsrInputError, match=r"--modality video needs a video file per utterance; 2 have none"):
        prepare_custom(audio_only, tmp_path / "lex.txt", tmp_path / "w2", tmp_path / "i2", modality="video")


def test_carve_dev_rules():
    recs = [UttRecord(f"u{i}", f"s{i % 2}", "", None, "yes") for i in range(20)]
    train, dev, how = carve_dev(recs, seed=0)
    assert how == "utterance" and len(dev) == 2 and len(train) == 18  # 2 speakers < 3: by utterance
    recs = [UttRecord(f"u{i}", f"s{i % 12}", "", None, "yes") for i in range(24)]
    train, dev, how = carve_dev(recs, seed=0)
    assert how == "speaker" and len({r.speaker for r in dev}) == 1 and len(dev) == 2
    assert not {r.speaker for r in dev} & {r.speaker for r in train}


def test_recipe_stage_0_and_missing_arguments(fixture_wavs, tmp_path):
    manifests = _manifests(fixture_wavs, tmp_path / "manifests")
    (tmp_path / "lexicon.txt").write_text(LEXICON)
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    run = lambda *a: subprocess.run(["bash", str(ROOT / "egs/custom/run.sh"), *a], capture_output=True, text=True, env=env)
    proc = run("--lexicon", str(tmp_path / "lexicon.txt"), "--data", str(tmp_path / "d"))
    assert proc.returncode == 1 and "--manifests and --lexicon are required" in proc.stderr
    proc = run("--manifests", str(manifests), "--lexicon", str(tmp_path / "lexicon.txt"), "--data", str(tmp_path / "d"),
               "--exp", str(tmp_path / "e"), "--stop-stage", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    prep = json.loads((tmp_path / "d" / "local" / "custom" / "prep.json").read_text())
    assert prep["splits"]["test"]["utterances"] == 4 and prep["dev"] == "carved from train by speaker"
