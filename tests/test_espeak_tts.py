"""espeak-ng TTS wrapper: timings, the letter "a", distinct voices, reproducibility."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avsr.corpora.synthetic.espeak_tts import SAMPLING_RATE, EspeakError, VoiceSpec, check_voice, synthesize
from avsr.corpora.synthetic.speakers import make_speakers

REPO = Path(__file__).resolve().parents[1]
SENTENCES = [
    "bin blue at a two now".split(),
    "place red by p eight please".split(),
    "lay green with a seven again".split(),
    "set white in z one soon".split(),
]


def _f0(audio: np.ndarray, sr: int = SAMPLING_RATE) -> float:
    """Median autocorrelation pitch (Hz) over the loud 40 ms frames."""
    frame, hop = int(0.04 * sr), int(0.01 * sr)
    lo, hi = sr // 400, sr // 60  # 60..400 Hz
    energies = [np.mean(audio[i : i + frame] ** 2) for i in range(0, len(audio) - frame, hop)]
    threshold = 0.3 * max(energies)
    pitches = []
    for k, i in enumerate(range(0, len(audio) - frame, hop)):
        if energies[k] < threshold:
            continue
        x = audio[i : i + frame] - audio[i : i + frame].mean()
        ac = np.correlate(x, x, mode="full")[frame - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        pitches.append(sr / lag)
    return float(np.median(pitches))


@pytest.mark.parametrize("words", SENTENCES)
def test_timings_are_monotone_and_inside_the_audio(words):
    utt = synthesize(words, VoiceSpec("en-us"))
    assert utt.audio.dtype == np.float32 and utt.audio.ndim == 1 and utt.sampling_rate == 16000
    assert 0.8 < utt.duration < 4.0
    assert [w.symbol for w in utt.words] == words
    prev_end = 0.0
    for seg in utt.phones:
        assert prev_end - 1e-9 <= seg.start < seg.end <= utt.duration + 1e-9, seg
        assert not any(mark in seg.symbol for mark in "'=,%"), seg  # stress stripped
        assert not seg.symbol.startswith("_") and seg.symbol != ";"
        prev_end = seg.end
    for w, word in enumerate(utt.words):
        assert word.start < word.end
        if w:
            assert utt.words[w - 1].end <= word.start + 1e-9
        inside = [p.symbol for p in utt.phones if word.start - 1e-9 <= p.start and p.end <= word.end + 1e-9]
        assert inside == utt.word_phones[w]
    # The speech really is where the phones say: louder inside words than in the final pause.
    audio = utt.audio
    first, last = int(utt.words[0].start * SAMPLING_RATE), int(utt.words[-1].end * SAMPLING_RATE)
    assert np.sqrt(np.mean(audio[first:last] ** 2)) > 0.02


def test_letter_a_is_read_as_the_letter_name():
    utt = synthesize("bin blue at a two now".split(), VoiceSpec("en-us"))
    prons = dict(zip([w.symbol for w in utt.words], utt.word_phones))
    assert prons["a"] == ["eI"]
    assert prons["at"][0] == "a"  # the preposition keeps its own vowel
    # Without the phoneme override espeak reads "a" as the article (schwa-like "a#").
    article = synthesize("bin blue at the two now".split(), VoiceSpec("en-us"))
    assert article.word_phones[3] != ["eI"]


def test_word_initial_stop_closure_starts_at_word_start():
    utt = synthesize("bin blue at b two now".split(), VoiceSpec("en-us"))
    for w, word in enumerate(utt.words):
        first = next(p for p in utt.phones if p.start >= word.start - 1e-9)
        assert first.start == pytest.approx(word.start)
    # The closure of "two" is silent-ish, longer than the burst alone would be.
    two = utt.words[4]
    t = next(p for p in utt.phones if p.symbol == "t" and p.start >= two.start - 1e-9)
    assert t.end - t.start > 0.04


def test_distinct_voices_give_different_speech():
    female, male = make_speakers(2, seed=0)
    words = SENTENCES[1]
    a = synthesize(words, female.voice)
    b = synthesize(words, male.voice)
    assert female.gender == "female" and male.gender == "male"
    assert len(a.audio) != len(b.audio) or not np.allclose(a.audio, b.audio)
    assert _f0(a.audio) > 1.3 * _f0(b.audio)


def test_speakers_are_distinct_and_deterministic():
    speakers = make_speakers(10, seed=3)
    assert speakers == make_speakers(10, seed=3)
    assert speakers != make_speakers(10, seed=4)
    assert [s.speaker_id for s in speakers][:3] == ["s01", "s02", "s03"]
    assert len({(s.base_voice, s.variant) for s in speakers}) == 10
    assert len({s.base_voice for s in speakers}) == 6  # every accent is used


def test_unknown_voice_raises():
    with pytest.raises(EspeakError, match="en-gb"):
        check_voice("en-gb")  # espeak-ng 1.52 has no plain "en-gb": it would keep the old voice
    with pytest.raises(EspeakError):
        synthesize(["bin"], VoiceSpec("xx-nonexistent+f1"))
    synthesize(["bin"], VoiceSpec("en-gb-x-rp+m3"))  # still usable afterwards


def test_many_voice_changes_do_not_lose_events():
    # Each voice change queues an event in espeak's short event list (regression test).
    make_speakers(40, seed=1)
    utt = synthesize("bin blue at a two now".split(), VoiceSpec("en-us"))
    assert [w.symbol for w in utt.words] == "bin blue at a two now".split()
    assert utt.word_phones[0] == ["b", "I", "n"]


def test_same_sequence_in_fresh_processes_is_bit_identical():
    script = (
        "import hashlib, sys\n"
        "from avsr.corpora.synthetic.espeak_tts import synthesize, VoiceSpec\n"
        "h = hashlib.sha256()\n"
        f"for words in {SENTENCES!r}:\n"
        "    u = synthesize(words, VoiceSpec('en-029+f2', rate=160, pitch=70, pitch_range=60))\n"
        "    h.update(u.audio.tobytes()); h.update(repr(u.phones).encode())\n"
        "print(h.hexdigest())\n"
    )
    outs = [
        subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert outs[0] == outs[1] and len(outs[0].strip()) == 64
