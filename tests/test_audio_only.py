"""Audio-only corpora through stages 0-3: the espeak yes/no fixture (8 kHz), the generic
transcript-named folder preparation, then stages 1-3 as direct step calls."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from lhotse import CutSet, RecordingSet, validate

from avsr.data.manifests import build_manifests, write_manifests
from avsr.data.records import read_records
from avsr.corpora.yesno.fixture import YesNoFixtureConfig, generate_yesno_fixture
from avsr.corpora.yesno.prepare import parse_word_map, prepare_folder, split_utterances, transcript_from_name
from avsr.utils.errors import AvsrInputError
from tests.conftest import make_clip

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
SMALL = YesNoFixtureConfig(num_clips=10, seed=3)


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    return subprocess.run([*args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def yesno(tmp_path_factory) -> dict:
    """10 generated 8 kHz clips -> prepared index -> stages 1-3 (one small noise condition)."""
    tmp = tmp_path_factory.mktemp("yesno")
    wavs = generate_yesno_fixture(tmp / "wavs", SMALL)
    summary = prepare_folder(tmp / "wavs", tmp / "data" / "wav", tmp / "data" / "local" / "yesno", parse_word_map("0=no,1=yes"))
    noise = yaml.safe_load((ROOT / "conf" / "noise.yaml").read_text())
    noise.update(noise_types=["white"], snrs_db=[0], multi_condition_train={"enabled": False})
    (tmp / "noise.yaml").write_text(yaml.safe_dump(noise))
    d = tmp / "data"
    steps = [
        [PY, "steps/make_manifests.py", "--index-dir", str(d / "local/yesno"), "--corpus", "yesno",
         "--out-dir", str(d / "manifests"), "--vocabulary", "none", "--nj", "1"],
        [PY, "steps/make_noisy_sets.py", "--manifest-dir", str(d / "manifests"), "--corpus", "yesno",
         "--noise-dir", str(d / "noise"), "--conf", str(tmp / "noise.yaml")],
        [PY, "steps/compute_features.py", "--manifest-dir", str(d / "manifests"), "--corpus", "yesno",
         "--out-dir", str(d / "fbank"), "--video-dir", str(d / "video"), "--nj", "1"],
    ]
    logs = []
    for cmd in steps:
        proc = _run(*cmd)
        assert proc.returncode == 0, proc.stderr[-3000:]
        logs.append(proc.stderr)
    return {"tmp": tmp, "data": d, "wavs": wavs, "summary": summary, "logs": logs}


def test_fixture_is_8khz_transcript_named_and_reproducible(yesno, tmp_path):
    wavs = yesno["wavs"]
    assert len(wavs) == 10 and len({w.name for w in wavs}) == 10
    for w in wavs:
        bits = w.stem.split("_")
        assert len(bits) == 8 and set(bits) <= {"0", "1"}
        info = sf.info(str(w))
        assert (info.samplerate, info.channels) == (8000, 1) and 2.0 < info.duration < 9.0
    again = generate_yesno_fixture(tmp_path / "again", SMALL)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in wavs]


def test_prepared_index_is_audio_only_16khz(yesno):
    index = yesno["data"] / "local" / "yesno"
    splits = {s: read_records(index / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert {s: len(r) for s, r in splits.items()} == {"train": 4, "dev": 1, "test": 5}  # 50 % test, 10 % of the rest dev
    assert yesno["summary"]["input_sampling_rates"] == {"8000": 10}
    records = [r for rs in splits.values() for r in rs]
    assert len({r.utt_id for r in records}) == 10
    for rec in records:
        assert rec.video_path is None and rec.speaker == rec.utt_id
        assert rec.text == " ".join({"0": "no", "1": "yes"}[b] for b in rec.utt_id.split("_"))
        src = yesno["tmp"] / "wavs" / f"{rec.utt_id}.wav"
        info = sf.info(rec.audio_path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames == 2 * sf.info(str(src)).frames  # 8 kHz -> 16 kHz, same duration
    lexicon = dict(line.split(maxsplit=1) for line in (index / "lexicon.txt").read_text().splitlines())
    assert lexicon == {"no": "n oU", "yes": "j E s"}  # espeak-ng en-us phonemes
    assert (index / "lm_text.txt").read_text().splitlines() == [r.text for r in splits["train"]]


def test_stages_1_to_3_make_audio_only_features(yesno):
    d = yesno["data"]
    recordings = RecordingSet.from_file(d / "manifests" / "yesno_recordings_test.jsonl.gz")
    assert all(len(r.sources) == 1 and not r.has_video and r.sampling_rate == 16000 for r in recordings)
    validate(CutSet.from_file(d / "manifests" / "yesno_cuts_test.jsonl.gz"), read_data=True)
    assert "audio-only: skipping video features (no cut has a video source)" in yesno["logs"][2]
    assert not (d / "video").exists()
    for name in ("train", "dev", "test", "test_white_snr0"):
        cuts = CutSet.from_file(d / "fbank" / f"yesno_cuts_{name}.jsonl.gz")
        for cut in cuts:
            fbank, mfcc = cut.load_features(), cut.load_mfcc()
            assert fbank.shape[1] == 80 and mfcc.shape[1] == 24 and np.isfinite(fbank).all()
            assert abs(fbank.shape[0] * 0.01 - cut.duration) <= 0.03  # 100 frames/s of 16 kHz audio
            assert not {"mouth_roi", "roi_dct"} & set(cut.custom or {})
    clean = CutSet.from_file(d / "fbank" / "yesno_cuts_test.jsonl.gz")[0]
    noisy = next(c for c in CutSet.from_file(d / "fbank" / "yesno_cuts_test_white_snr0.jsonl.gz")
                 if c.custom["clean_cut_id"] == clean.id)
    assert not np.allclose(noisy.load_features(), clean.load_features())
    # 8 kHz speech upsampled: the mel bins above 4 kHz hold (almost) nothing, the low ones the speech.
    fb = clean.load_features()
    assert fb[:, :40].mean() > fb[:, -10:].mean() + 3.0


def test_mixed_video_and_audio_only_cuts_are_refused(tmp_path):
    av = make_clip(tmp_path / "c", "av1", "s1", "bin blue at f two now")
    audio_only = make_clip(tmp_path / "c", "a1", "s2", "set red by a one again")
    audio_only.video_path = None
    write_manifests(tmp_path / "m", "mix", "train", *build_manifests([av, audio_only]))
    proc = _run(PY, "steps/compute_features.py", "--manifest-dir", str(tmp_path / "m"), "--corpus", "mix",
                "--out-dir", str(tmp_path / "f"), "--video-dir", str(tmp_path / "v"), "--nj", "1")
    assert proc.returncode == 1 and "1 of 2 mix cuts have no video" in proc.stderr


def test_wrong_sample_rate_in_the_index_is_a_listed_bad_cut(tmp_path):
    """Stage 1 keeps the foundation's rule: the index must hold 16 kHz wavs (stage 0 resamples)."""
    good = make_clip(tmp_path / "c", "g", "s1", "yes no")
    bad = make_clip(tmp_path / "c", "b", "s1", "no no", sampling_rate=8000)
    for rec in (good, bad):
        rec.video_path = None
    write_manifests(tmp_path / "m", "t", "train", *build_manifests([good, bad]))  # what stage 1 runs
    assert list(CutSet.from_file(tmp_path / "m" / "t_cuts_train.jsonl.gz").ids) == ["g"]
    report = (tmp_path / "m" / "t_bad_cuts_train.txt").read_text()
    assert report.startswith("b\t") and "wrong sample rate: 8000 Hz, expected 16000 Hz" in report


def test_word_named_folder_any_rate_and_bad_names(tmp_path):
    wav_dir = tmp_path / "in"
    (wav_dir / "sub").mkdir(parents=True)
    t = np.arange(44100) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(wav_dir / "Yes_No.wav", np.stack([tone, tone], 1), 44100)  # stereo 44.1 kHz
    sf.write(wav_dir / "sub" / "no-yes-yes.WAV", tone[:22050], 22050)
    sf.write(wav_dir / "_.wav", tone, 44100)  # no word in the name
    (wav_dir / "yes.wav").write_bytes(b"not a wav")
    summary = prepare_folder(wav_dir, tmp_path / "wav", tmp_path / "idx", test_fraction=0.5, dev_fraction=0.0,
                             lexicon_source="grapheme")
    records = {r.utt_id: r for s in ("train", "dev", "test") for r in read_records(tmp_path / "idx" / f"{s}.jsonl")}
    assert {u: r.text for u, r in records.items()} == {"Yes_No": "yes no", "sub-no-yes-yes": "no yes yes"}
    assert summary["splits"] == {"train": 1, "dev": 0, "test": 1}
    assert sf.info(records["Yes_No"].audio_path).frames == 16000 and sf.info(records["Yes_No"].audio_path).channels == 1
    bad = dict(line.split("\t")[0::2] for line in (tmp_path / "idx" / "bad_cuts.txt").read_text().splitlines())
    assert bad["_"].startswith("empty transcript") and bad["yes"].startswith("unreadable audio")
    assert (tmp_path / "idx" / "lexicon.txt").read_text() == "no n o\nyes y e s\n"
    with pytest.raises(AvsrInputError, match=r"token\(s\) 2 not in --word-map"):
        transcript_from_name("0_2.wav", parse_word_map("0=no,1=yes"))


def test_split_is_deterministic_and_disjoint():
    ids = [f"u{i:02d}" for i in range(60)]
    a, b = split_utterances(ids, seed=7), split_utterances(list(reversed(ids)), seed=7)
    assert a == b and [len(a[s]) for s in ("train", "dev", "test")] == [27, 3, 30]
    assert sorted(a["train"] + a["dev"] + a["test"]) == ids
    assert split_utterances(ids, seed=8) != a


def test_prepare_folder_cli_errors_and_recipe_stage_0(yesno, tmp_path):
    (tmp_path / "empty").mkdir()
    proc = _run(PY, "egs/yesno/local/prepare_folder.py", "--wav-dir", str(tmp_path / "empty"),
                "--out-audio-dir", str(tmp_path / "w"), "--index-dir", str(tmp_path / "i"))
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'empty'}: no .wav file in this directory"
    proc = _run("bash", "egs/yesno/run.sh", "--wav-dir", str(yesno["tmp"] / "wavs"), "--word-map", "0=no,1=yes",
                "--data", str(tmp_path / "data"), "--exp", str(tmp_path / "exp"), "--stop-stage", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    index = tmp_path / "data" / "local" / "yesno"
    assert json.loads((index / "prep.json").read_text())["splits"] == {"train": 4, "dev": 1, "test": 5}
    assert (index / "lexicon.txt").read_text() == (yesno["data"] / "local" / "yesno" / "lexicon.txt").read_text()
