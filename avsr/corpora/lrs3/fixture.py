"""A tiny corpus in LRS3's distribution layout, for tests and for trying egs/lrs3 without the data.

    python -m avsr.corpora.lrs3.fixture OUT_DIR

writes ``OUT_DIR/{pretrain,trainval,test}/<video_id>/<clip>.{mp4,txt}``: 2 pretrain, 2 trainval
(one shared with pretrain, as LRS3's TED talks are) and 1 test video id, 12 clips in all. Each
clip is espeak-ng speech of a different voice per video id with a face rendered from the
phoneme timeline (the embedded corpus's generator pieces), muxed as H.264 + AAC (16 kHz) at
25 fps; the ``.txt`` is in LRS3's format (``Text:  UPPER CASE``, ``Conf:``, a blank line, then the
``WORD START END ASDSCORE`` table with the TTS word times). One pretrain clip per pretrain id
is several sentences with pauses between them (~8 s), to exercise the cutting of long clips.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from avsr.corpora.synthetic.espeak_tts import SAMPLING_RATE, synthesize
from avsr.corpora.synthetic.speakers import make_speakers
from avsr.data.types import Segment
from avsr.utils.io import write_text_atomic
from avsr.video.io import write_av_mp4

PathLike = Union[str, Path]
FPS = 25
VIDEO_SIZE = 128
LEAD_SECONDS, GAP_SECONDS, TRAIL_SECONDS = 0.3, 0.9, 0.3

# subset -> video id -> clips, each clip one or more sentences (said with pauses between them).
# YouTube-style ids with '-' and '_' (LRS3 folder names are YouTube ids). "zorbly" is not in
# CMUdict (exercises the espeak-ng lexicon fallback); "a" is avoided (espeak reads it as a letter here).
# Sentences are space-separated words.
FIXTURE_CLIPS: dict[str, dict[str, list[list[str]]]] = {
    "pretrain": {
        "0kTq-9vXw_A": [
            ["so today i want to talk about water", "it's the most important thing we have", "and we are running short"],
            ["thank you very much"],
        ],
        "Zr4_bN8c-Lm": [
            ["people remember stories better than numbers", "that is why zorbly ideas spread so fast", "think about your own life"],
            ["the city was quiet that night"],
        ],
    },
    "trainval": {
        "Zr4_bN8c-Lm": [["we built the small machine"], ["it worked the first time"], ["nobody believed us"]],
        "Hh2-Yp7QeT0": [["music changes the way we feel"], ["listen to this sound"], ["it's older than language"]],
    },
    "test": {
        "c9Fx_Ww3-Ju": [["the ocean covers most of the planet"], ["we know very little about it"]],
    },
}


def _clip_audio_and_words(sentences: Sequence[str], voice) -> tuple[np.ndarray, list[Segment], list[Segment]]:
    """Sentences spoken one after another with pauses; a whole number of video frames long."""
    pieces, words, phones = [np.zeros(int(LEAD_SECONDS * SAMPLING_RATE), np.float32)], [], []
    t = LEAD_SECONDS
    for n, sentence in enumerate(sentences):
        if n:
            pieces.append(np.zeros(int(GAP_SECONDS * SAMPLING_RATE), np.float32))
            t += GAP_SECONDS
        utt = synthesize(sentence.split(), voice)
        words += [Segment(s.symbol, s.start + t, s.end + t) for s in utt.words]
        phones += [Segment(s.symbol, s.start + t, s.end + t) for s in utt.phones]
        pieces.append(utt.audio)
        t += utt.duration
    audio = np.concatenate(pieces + [np.zeros(int(TRAIL_SECONDS * SAMPLING_RATE), np.float32)])
    samples_per_frame = SAMPLING_RATE // FPS
    total = math.ceil(len(audio) / samples_per_frame) * samples_per_frame
    audio = np.pad(audio, (0, total - len(audio)))
    peak = float(np.abs(audio).max())
    if peak > 0.99:
        audio *= 0.99 / peak
    return audio, words, phones


def lrs3_txt(words: Sequence[Segment], conf: int = 3) -> str:
    """The ``.txt`` of one clip in LRS3's layout (word times with two decimals, as LRS3 has them)."""
    rng = np.random.default_rng(len(words))
    rows = [f"{w.symbol.upper()} {w.start:.2f} {w.end:.2f} {rng.uniform(3.0, 9.0):.1f}" for w in words]
    text = " ".join(w.symbol.upper() for w in words)
    return f"Text:  {text}\nConf:  {conf}\n\nWORD START END ASDSCORE\n" + "\n".join(rows) + "\n"


def write_lrs3_fixture(out_dir: PathLike, seed: int = 7) -> dict[str, int]:
    """Write the fixture corpus under ``out_dir``; returns the number of clips per subset."""
    from avsr.corpora.synthetic.render import render_face_video, sample_face_style

    out_dir = Path(out_dir)
    video_ids = sorted({v for clips in FIXTURE_CLIPS.values() for v in clips})
    speakers = dict(zip(video_ids, make_speakers(len(video_ids), seed, verify=False)))
    counts = {}
    for subset, per_video in FIXTURE_CLIPS.items():
        counts[subset] = 0
        for video_id, clips in per_video.items():
            spk = speakers[video_id]
            style = sample_face_style(np.random.default_rng(spk.face_seed))
            for index, sentences in enumerate(clips, start=1):
                audio, words, phones = _clip_audio_and_words(sentences, spk.voice)
                duration = len(audio) / SAMPLING_RATE
                frames, _ = render_face_video(phones, words, duration, style, seed=seed * 1000 + index, fps=FPS, size=VIDEO_SIZE)
                base = out_dir / subset / video_id / f"{index:05d}"
                write_av_mp4(base.with_suffix(".mp4"), frames, FPS, audio=audio, sampling_rate=SAMPLING_RATE)
                write_text_atomic(base.with_suffix(".txt"), lrs3_txt(words))
                counts[subset] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="where to write pretrain/, trainval/, test/")
    parser.add_argument("--seed", type=int, default=7, help="voices and faces (default: %(default)s)")
    args = parser.parse_args()
    counts = write_lrs3_fixture(args.out_dir, args.seed)
    print(f"{args.out_dir}: " + ", ".join(f"{s} {n} clips" for s, n in counts.items()))


if __name__ == "__main__":
    main()
