"""avsr-transcribe on real GRID clips and the awkward inputs of issue 15 item 1: some frames
without a face, no face at all, no audio track, a wav only, a long file cut into chunks, bad files.
Systems: seeded random tiny E2E models (tests/deploy_helpers.py); the Haar locator (fast)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from deploy_helpers import PYTHON_STEPS, build_hlg, grid_s1_dir, make_exp

HAAR = {"locator": "haar", "haar": {"scale_factor": 1.15, "min_neighbors": 5, "min_face_fraction": 0.3,
                                    "max_detect_side": 320, "detect_every": 6}, "crop_size": 44, "num_dct": 64}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from avsr.video.io import read_audio_track, read_video_frames, write_av_mp4

    root = tmp_path_factory.mktemp("transcribe")
    exps = {"av": make_exp(root, "t_av", "transducer", "bilinear", seed=3),
            "a": make_exp(root, "c_a", "ctc_attention", "audio", seed=2),
            "v": make_exp(root, "t_v", "transducer", "video", seed=4)}
    hlg = build_hlg(exps["a"], root / "graph")
    media = root / "media"
    media.mkdir()
    clips = sorted(grid_s1_dir().glob("*.mpg"))[:3]
    for c in clips:
        shutil.copyfile(c, media / c.name)
    first = media / clips[0].name
    frames = read_video_frames(first)
    audio = read_audio_track(first, 16000)
    grey = np.full_like(frames, 110)
    partial = frames.copy()
    partial[20:45] = 110  # the speaker "leaves" for a second
    write_av_mp4(media / "partial_face.mp4", partial, 25, audio)
    write_av_mp4(media / "no_face.mp4", grey, 25, audio)
    write_av_mp4(media / "no_audio.mp4", frames, 25, None)
    import soundfile as sf

    sf.write(media / "audio_only.wav", audio, 16000, subtype="PCM_16")
    # a long file: two GRID sentences with 1 s pauses (the face held still during them)
    long_frames, long_audio = [], []
    for c in clips[:2]:
        f, a = read_video_frames(media / c.name), read_audio_track(media / c.name, 16000)
        n = min(len(f), len(a) // 640)
        long_frames += [f[:n], np.repeat(f[n - 1:n], 25, 0)]
        long_audio += [a[: n * 640], np.zeros(16000, np.float32)]
    write_av_mp4(media / "long.mp4", np.concatenate(long_frames), 25, np.concatenate(long_audio))
    return {"root": root, "exps": exps, "hlg": hlg, "media": media, "clips": [media / c.name for c in clips]}


_LOADED: dict = {}


def transcriber(setup, key: str, **kw):
    """One loaded system per (system, options) for the whole module (loading is most of a call)."""
    from avsr.deploy.features import FeatureSettings
    from avsr.deploy.transcribe import TranscribeOptions, Transcriber

    cache_key = (str(setup["root"]), key, tuple(sorted(kw.items())))
    if cache_key not in _LOADED:
        opts = TranscribeOptions(features=FeatureSettings.from_conf({"video": HAAR}), progress=False, **kw)
        _LOADED[cache_key] = Transcriber(setup["exps"][key], None, opts)
    return _LOADED[cache_key]


def test_cli_grid_clip_text_and_ctm(setup, tmp_path: Path) -> None:
    clip = setup["clips"][0]
    ctm = tmp_path / "out.ctm"
    conf = tmp_path / "features.yaml"
    import yaml

    conf.write_text(yaml.safe_dump({"video": HAAR}))
    r = PYTHON_STEPS("transcribe.py", "--exp", str(setup["root"]), "--system", "t_av", "--features-conf", str(conf),
                     "--ctm", str(ctm), "--no-progress", "--num-threads", "1", str(clip))
    assert r.returncode == 0, r.stderr[-2000:]
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith(str(clip))
    words = line[len(str(clip)):].split()
    assert words and "decoded as AV" in r.stderr
    rows = [x.split() for x in ctm.read_text().splitlines()]
    assert [x[4] for x in rows] == words and all(x[0] == clip.stem and x[1] == "1" for x in rows)
    starts = [float(x[2]) for x in rows]
    assert starts == sorted(starts) and 0 <= starts[0] and starts[-1] + float(rows[-1][3]) <= 3.05
    assert all(float(x[3]) > 0 for x in rows)


def test_some_frames_without_face_are_interpolated(setup) -> None:
    t = transcriber(setup, "av").transcribe(setup["media"] / "partial_face.mp4")
    assert t.modality == "AV" and t.words
    assert any("face found in" in n and "interpolated" in n for n in t.notes), t.notes


def test_no_face_at_all(setup) -> None:
    from avsr.utils.errors import AvsrInputError

    t = transcriber(setup, "av").transcribe(setup["media"] / "no_face.mp4")
    assert t.modality.startswith("A (AV model, video removed)") and t.words
    assert any(n.startswith("warning: no face found in any frame") for n in t.notes)
    with pytest.raises(AvsrInputError, match="no face found in any frame, and this system is video-only"):
        transcriber(setup, "v").transcribe(setup["media"] / "no_face.mp4")


def test_no_audio_track(setup) -> None:
    from avsr.utils.errors import AvsrInputError

    t = transcriber(setup, "av").transcribe(setup["media"] / "no_audio.mp4")
    assert t.modality.startswith("V (AV model, audio removed)") and t.words
    assert any("no audio track" in n for n in t.notes)
    assert transcriber(setup, "v").transcribe(setup["media"] / "no_audio.mp4").modality == "V"
    with pytest.raises(AvsrInputError, match="no audio track, and this system is audio-only"):
        transcriber(setup, "a", method="ctc_greedy").transcribe(setup["media"] / "no_audio.mp4")


def test_wav_only(setup) -> None:
    wav = setup["media"] / "audio_only.wav"
    t = transcriber(setup, "av").transcribe(wav)
    assert t.modality.startswith("A (AV model") and any("no video stream" in n for n in t.notes)
    a = transcriber(setup, "a", method="ctc_greedy").transcribe(wav)
    assert a.modality == "A" and a.words
    # the same audio inside the mpg gives the same words (same resampled samples, same features)
    same = transcriber(setup, "a", method="ctc_greedy").transcribe(setup["clips"][0])
    assert same.text == a.text


def test_closed_vocabulary_with_the_grammar_graph(setup) -> None:
    from avsr.corpora.grid.grammar import is_grid_sentence

    tr = transcriber(setup, "a", method="hlg_1best", graph=str(setup["hlg"]))
    assert any("closed vocabulary" in n and "51 words" in n and "sentence grammar" in n for n in tr.notes), tr.notes
    for clip in setup["clips"]:
        t = tr.transcribe(clip)
        assert is_grid_sentence(t.text.split()), t.text
        assert [w.start for w in t.words] == sorted(w.start for w in t.words)


def test_long_file_is_cut_at_pauses(setup) -> None:
    tr = transcriber(setup, "av", max_chunk_seconds=4.0)
    t = tr.transcribe(setup["media"] / "long.mp4")
    assert t.duration > 7 and t.chunks >= 2
    assert any("chunks at pauses" in n for n in t.notes)
    starts = [w.start for w in t.words]
    assert starts == sorted(starts) and starts[-1] < t.duration and starts[-1] > 4.0  # words from the last sentence


def test_plan_chunks_cuts_in_pauses() -> None:
    from avsr.deploy.media import plan_chunks

    rng = np.random.default_rng(0)
    speech = lambda s: 0.3 * rng.standard_normal(int(s * 16000)).astype(np.float32)  # noqa: E731
    quiet = lambda s: 0.001 * rng.standard_normal(int(s * 16000)).astype(np.float32)  # noqa: E731
    audio = np.concatenate([quiet(0.5), speech(3), quiet(1.0), speech(3), quiet(1.0), speech(3), quiet(0.5)])
    dur = len(audio) / 16000
    assert [(c.start, c.end) for c in plan_chunks(dur, audio, max_seconds=20)] == [(0.0, 12.0)]  # short: one chunk
    chunks = plan_chunks(dur, audio, max_seconds=5)
    assert len(chunks) == 3 and chunks[0].start == 0 and abs(chunks[-1].end - dur) < 0.04
    assert abs(chunks[0].end - 4.0) < 0.1 and abs(chunks[1].end - 8.0) < 0.1  # the middles of the pauses
    no_pause = plan_chunks(dur, speech(dur), max_seconds=5)
    assert all(c.duration <= 5.0 + 1e-9 for c in no_pause) and len(no_pause) >= 3
    assert all(abs(round(c.start / 0.04) * 0.04 - c.start) < 1e-9 for c in chunks)  # on the 40 ms grid


def test_bad_files(setup, tmp_path: Path) -> None:
    from avsr.utils.errors import AvsrInputError

    tr = transcriber(setup, "a", method="ctc_greedy")
    with pytest.raises(AvsrInputError, match="file not found"):
        tr.transcribe(tmp_path / "missing.mp4")
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(AvsrInputError, match="not a media file"):
        tr.transcribe(fake)

def test_cli_bad_file_is_one_error_line(setup, tmp_path: Path, capsys) -> None:
    from avsr.deploy.cli import transcribe_main

    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(SystemExit) as exit_info:
        transcribe_main(["--exp", str(setup["root"]), "--system", "c_a", "--method", "ctc_greedy", "--no-progress",
                         "--quiet", "--num-threads", "1", str(fake)])
    out = capsys.readouterr()
    assert exit_info.value.code == 1 and out.out == ""
    assert out.err.strip().splitlines() == [f"error: {fake}: not a media file PyAV can open (Invalid data found when "
                                            "processing input)"] or out.err.startswith(f"error: {fake}: not a media file")


def test_forced_alignments_and_word_grouping() -> None:
    from avsr.deploy import ctm

    # CTC: frames 0-1 token 3, 2 blank, 3-5 token 3 again, 6 token 4
    path = [3, 3, 0, 3, 3, 3, 4]
    lp = np.full((7, 6), -10.0)
    lp[np.arange(7), path] = -0.01
    assert ctm.ctc_align(lp, [3, 3, 4]) == [(0, 1), (3, 5), (6, 6)]
    # RNN-T lattice: token u is emitted where its column is likely
    emit_at = {0: 2, 1: 2, 2: 5}
    tokens = [7, 8, 9]

    def joint(u: int) -> np.ndarray:
        out = np.full((8, 10), -5.0)
        out[:, 0] = -0.1  # blank
        if u < 3:
            out[emit_at[u], tokens[u]] = 0.0
            out[emit_at[u], 0] = -6.0
        return out

    assert ctm.transducer_align(joint, 8, tokens) == [(2, 2), (2, 2), (5, 5)]
    # an HLG path's per-frame labels (token + 1; 1 = blank)
    assert ctm.path_alignment([4, 4, 1, 4, 5, 5, 1], 1) == ([3, 3, 4], [(0, 1), (3, 3), (4, 5)])

    class Phones:
        unit = "phone"

        def pieces(self):
            return ["<blk>", "<sos/eos>", "b", "I", "n", "l", "eI"]

    grouped = ctm.group_words([2, 3, 4, 5, 6], [(0, 1), (2, 3), (4, 4), (6, 7), (8, 9)], Phones(), ["bin", "lay"],
                              {"bin": [("b", "I", "n")], "lay": [("l", "eI")]})
    assert grouped == [("bin", 0, 4), ("lay", 6, 9)]
    words = ctm.timed_words(grouped, offset=1.0)
    assert words[0] == ctm.TimedWord("bin", 1.0, 1.2) and ctm.ctm_lines("f", words).splitlines()[1] == "f 1 1.24 0.16 lay"
    silence = np.array([True, True, False, False, True, False, False, True])
    assert ctm.path_word_spans([0, 4], 8, silence) == [(2, 3), (5, 6)]
