"""espeak-ng text-to-speech through ctypes, with word and phoneme timings from its events.

The library comes from the ``espeakng-loader`` wheel (libespeak-ng 1.52 + data). It is
initialised once per process in synchronous mode (22050 Hz, phoneme events on); audio is
resampled to 16 kHz. espeak-ng keeps one global state and is not thread-safe: use one
process per core.

Reproducibility: espeak-ng seeds its noise generator from the clock (we fix the seed) and
keeps a little synthesis state across calls (e.g. the phase of its pitch "flutter" table
lives in a static variable that ``espeak_Initialize`` does not reset), so the same call can
give slightly different samples depending on what the process synthesised before. A fresh
process that synthesises the same sequence of utterances gives bit-identical audio;
:mod:`avsr.corpora.synthetic.corpus` relies on that (one fresh worker process per speaker).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.signal import firwin, resample_poly

from avsr.data.types import Segment
from avsr.lang.lexicon import strip_espeak_stress

SAMPLING_RATE = 16000
ESPEAK_RATE = 22050  # what espeak_Initialize returns for synchronous output

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PHONEMES_INPUT = 0x100  # espeakPHONEMES: [[...]] in the text is phoneme input
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4
_EE_OK = 0

# Words espeak would misread in a GRID sentence, fed as phonemes instead: the letter "a"
# is otherwise read as the article ("a#").
PHONEME_OVERRIDES: dict[str, str] = {"a": "[['eI]]"}
# Word-initial stops/affricates have no event for their closure: the closure starts at
# the word event, so the phone is stretched back to it.
_STOPS = frozenset({"p", "b", "t", "d", "k", "g", "tS", "dZ"})
# ";" is a short link pause inside a phrase: the previous phone simply runs on.
_IGNORED_PHONES = frozenset({";"})
# espeak-ng seeds its noise generator (breathiness, roughness) from the clock at start-up;
# a fixed seed makes a fresh process reproducible.
_RAND_SEED = 20061101
# A word event more than this long before its first phone is not a closure but a pause.
_MAX_CLOSURE_S = 0.12


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class VoiceSpec:
    """An espeak voice: ``name`` is a voice plus optional variant (``en-us+f3``);
    ``rate`` in words per minute (80-450), ``pitch`` and ``pitch_range`` in espeak's 0-100."""

    name: str
    rate: int = 175
    pitch: int = 50
    pitch_range: int = 50


@dataclass
class Utterance:
    """Synthesised speech: 16 kHz mono float32 audio with word and phone timings (seconds).

    ``word_phones[i]`` is the pronunciation espeak used for ``words[i]`` in this sentence
    (stress marks stripped); phones between words are not in any word (there are none
    for GRID sentences).
    """

    audio: np.ndarray
    words: list[Segment]
    phones: list[Segment]
    word_phones: list[list[str]]
    sampling_rate: int = SAMPLING_RATE

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sampling_rate


class EspeakError(RuntimeError):
    """espeak-ng refused a request (unknown voice, synthesis failure)."""


class _Engine:
    """The process-wide espeak-ng instance (the library has one global state)."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), _INIT_PHONEME_EVENTS
        )
        if rate != ESPEAK_RATE:
            raise EspeakError(f"espeak_Initialize returned {rate}, expected {ESPEAK_RATE} Hz")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, str]] = []  # (type, sample, phoneme mnemonic)
        self._callback = _SynthCallback(self._on_audio)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self._voice: Optional[str] = None
        set_seed = getattr(self.lib, "espeak_ng_SetRandSeed", None)
        if set_seed is None:
            raise EspeakError("this libespeak-ng has no espeak_ng_SetRandSeed: synthesis would not be reproducible")
        set_seed.argtypes = [ctypes.c_long]
        set_seed(_RAND_SEED)

    def _on_audio(self, wav, num_samples, events) -> int:
        if num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self._events.append((ev.type, ev.sample, ev.id.string.decode("utf-8", "replace")))
            elif ev.type == _EVENT_WORD:
                self._events.append((ev.type, ev.sample, ""))
            i += 1
        return 0  # 0 = continue synthesis

    def set_voice(self, name: str) -> None:
        if name == self._voice:
            return
        status = self.lib.espeak_SetVoiceByName(name.encode())
        # Every voice change queues a sample-rate event; espeak's event list is short, so
        # many queued events would push out the next sentence's word/phoneme events.
        # Synthesising an empty text delivers (and here discards) them.
        self.lib.espeak_Synth(b"\0", 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self._chunks, self._events = [], []
        if status != _EE_OK:
            # espeak keeps the previous voice on failure: never carry on silently with it.
            self._voice = None
            raise EspeakError(f"espeak-ng has no voice {name!r} (espeak_SetVoiceByName returned {status})")
        self._voice = name

    def synth(self, text: str, voice: VoiceSpec) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
        self.set_voice(voice.name)
        for param, value in ((_PARAM_RATE, voice.rate), (_PARAM_PITCH, voice.pitch), (_PARAM_RANGE, voice.pitch_range)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        status = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _PHONEMES_INPUT, None, None)
        if status != _EE_OK:
            raise EspeakError(f"espeak_Synth failed ({status}) on {text!r}")
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        return audio, self._events


_ENGINE: Optional[_Engine] = None
# 22050 -> 16000 Hz is up 320 / down 441. The anti-aliasing filter is what resample_poly
# designs by default (Kaiser beta 5, 10 zero crossings), computed once: designing it per
# call took a third of the synthesis time.
_UP, _DOWN = 320, 441
assert SAMPLING_RATE * _DOWN == ESPEAK_RATE * _UP
_RESAMPLE_FILTER = firwin(2 * 10 * _DOWN + 1, 1.0 / _DOWN, window=("kaiser", 5.0)).astype(np.float32)


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


def check_voice(name: str) -> None:
    """Raise :class:`EspeakError` unless espeak-ng can select voice ``name`` (e.g. ``en-us+f3``)."""
    _engine().set_voice(name)


def _is_pause(mnemonic: str) -> bool:
    return mnemonic.startswith("_")


def _segment_events(words: list[str], events: list[tuple[int, int, str]], num_samples: int):
    """Turn espeak's word/phoneme events (22050 Hz sample offsets) into timed segments.

    A phone lasts from its event to the next phone or pause event. A word-initial stop is
    stretched back to its word event (the closure, which has no event of its own).
    """
    word_starts: list[int] = []
    phones: list[list] = []  # [symbol, start_sample, word_index]
    ends: list[int] = []  # end sample of each phone, filled when the next boundary arrives
    open_phone = False
    for ev_type, sample, mnemonic in events:
        if ev_type == _EVENT_WORD:
            word_starts.append(sample)
            continue
        if mnemonic in _IGNORED_PHONES:
            continue
        if open_phone:
            ends.append(sample)
            open_phone = False
        if _is_pause(mnemonic):
            continue
        if not word_starts:
            raise EspeakError(f"phoneme {mnemonic!r} before the first word event in {' '.join(words)!r}: {events}")
        phones.append([strip_espeak_stress(mnemonic), sample, len(word_starts) - 1])
        open_phone = True
    if open_phone:
        ends.append(num_samples)
    if len(word_starts) != len(words):
        raise EspeakError(f"espeak reported {len(word_starts)} words for {len(words)} in {' '.join(words)!r}")

    # Word-initial stops start at the word event (when it is a plausible closure).
    max_closure = int(_MAX_CLOSURE_S * ESPEAK_RATE)
    for i, (symbol, start, w) in enumerate(phones):
        first_of_word = i == 0 or phones[i - 1][2] != w
        if first_of_word and symbol in _STOPS:
            closure = word_starts[w]
            prev_start = phones[i - 1][1] if i > 0 else -1
            if prev_start < closure < start and start - closure <= max_closure:
                phones[i][1] = closure
                if i > 0 and ends[i - 1] > closure:
                    ends[i - 1] = closure
    return phones, ends


def synthesize(words: list[str], voice: VoiceSpec) -> Utterance:
    """Speak ``words`` (one sentence) with ``voice``; 16 kHz audio with word and phone timings.

    Phones are espeak mnemonics with stress marks stripped; the letter "a" is read as the
    letter name (``eI``). Raises :class:`EspeakError` on an unknown voice.
    """
    if not words:
        raise ValueError("synthesize needs at least one word")
    text = " ".join(PHONEME_OVERRIDES.get(w, w) for w in words)
    raw, events = _engine().synth(text, voice)
    phones, ends = _segment_events(words, events, len(raw))

    audio = resample_poly(raw.astype(np.float32) / 32768.0, _UP, _DOWN, window=_RESAMPLE_FILTER).astype(np.float32)
    scale = 1.0 / ESPEAK_RATE
    phone_segments: list[Segment] = []
    word_phones: list[list[str]] = [[] for _ in words]
    word_spans: list[list[float]] = [[np.inf, -np.inf] for _ in words]
    for (symbol, start, w), end in zip(phones, ends):
        seg = Segment(symbol, start * scale, max(end, start) * scale)
        phone_segments.append(seg)
        word_phones[w].append(symbol)
        word_spans[w][0] = min(word_spans[w][0], seg.start)
        word_spans[w][1] = max(word_spans[w][1], seg.end)
    for w, prons in enumerate(word_phones):
        if not prons:
            raise EspeakError(f"espeak produced no phoneme for {words[w]!r} in {' '.join(words)!r}")
    word_segments = [Segment(word, a, b) for word, (a, b) in zip(words, word_spans)]
    return Utterance(audio=audio, words=word_segments, phones=phone_segments, word_phones=word_phones)
