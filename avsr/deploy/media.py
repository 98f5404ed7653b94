"""Reading a user's media file: any video container PyAV opens (mp4, mkv, avi, mpg, mov, webm ...),
with or without an audio track, or an audio file (wav, flac, ogg).

- audio: mono float32 in [-1, 1] at 16 kHz, quantised to 16 bits as every corpus preparation's
  wavs are. Audio files are read with soundfile (exact PCM) and resampled with a polyphase filter
  when needed; a video's audio track goes through PyAV's resampler, as the GRID / LRS3
  preparations do (:func:`avsr.video.io.read_audio_track`);
- video: gray uint8 frames, streamed in blocks (:func:`iter_video_frames`) so a file of several
  minutes never sits in memory as full frames, and its frame rate;
- long files: :func:`plan_chunks` cuts a file into chunks at its pauses, on the 40 ms grid shared
  by the audio features (10 ms) and the models' video rate (25 fps).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from avsr.utils.errors import AvsrInputError

PathLike = Union[str, Path]
SAMPLING_RATE = 16000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga")
GRID_SECONDS = 0.04  # chunk boundaries fall on multiples of one video frame at 25 fps (= 4 fbank frames)


@dataclass(frozen=True)
class MediaInfo:
    """What a file contains. ``fps`` is the video stream's frame rate (None without video)."""

    path: Path
    has_video: bool
    has_audio: bool
    fps: Optional[float]
    audio_sampling_rate: Optional[int]
    width: int = 0
    height: int = 0


def probe_media(path: PathLike) -> MediaInfo:
    """Streams of ``path`` (no decoding). Raises :class:`AvsrInputError` for a missing file,
    an unreadable container, or a file with neither audio nor video."""
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "file not found")
    if path.suffix.lower() in AUDIO_SUFFIXES:
        import soundfile as sf

        try:
            info = sf.info(str(path))
        except Exception as err:  # soundfile raises its own error type per backend
            raise AvsrInputError(path, f"cannot read the audio file ({err})") from None
        if info.frames == 0:
            raise AvsrInputError(path, "audio file is empty")
        return MediaInfo(path, False, True, None, int(info.samplerate))
    import av

    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            fps = float(video.average_rate or video.guessed_rate or 0) if video is not None else None
            width = video.codec_context.width if video is not None else 0
            height = video.codec_context.height if video is not None else 0
            rate = int(audio.rate) if audio is not None else None
    except av.error.FFmpegError as err:
        raise AvsrInputError(path, f"not a media file PyAV can open ({getattr(err, 'strerror', None) or err})") from None
    if video is None and audio is None:
        raise AvsrInputError(path, "no audio and no video stream")
    if video is not None and not fps:
        raise AvsrInputError(path, "video stream has no frame rate")
    return MediaInfo(path, video is not None, audio is not None, fps, rate, width, height)


def resample_audio(samples: np.ndarray, sampling_rate: int, target: int = SAMPLING_RATE) -> np.ndarray:
    """Mono float32 at ``target`` Hz from [N] or [N, C] samples (channels averaged; polyphase
    resampling, exact for rational rate ratios)."""
    from scipy.signal import resample_poly

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if int(sampling_rate) != target:
        g = int(np.gcd(int(sampling_rate), target))
        x = resample_poly(x, target // g, int(sampling_rate) // g).astype(np.float32)
    return x


def load_audio(info: MediaInfo, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """The file's audio as mono float32 at ``sampling_rate``."""
    if not info.has_audio:
        raise AvsrInputError(info.path, "no audio track")
    if not info.has_video and info.path.suffix.lower() in AUDIO_SUFFIXES:
        import soundfile as sf

        samples, rate = sf.read(str(info.path), dtype="float32", always_2d=False)
        audio = resample_audio(samples, rate, sampling_rate)
    else:
        from avsr.video.io import read_audio_track

        audio = read_audio_track(info.path, sampling_rate)
    # every corpus preparation stores its audio as 16-bit wavs: quantise the same way (it matters
    # for near-silent frames, whose log energy the 16-bit floor decides)
    audio = (np.clip(np.rint(np.asarray(audio, np.float64) * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)
    if audio.size == 0:
        raise AvsrInputError(info.path, "audio track is empty")
    return audio


def iter_video_frames(path: PathLike, block: int = 300) -> Iterator[np.ndarray]:
    """Gray uint8 frames [n <= block, H, W] of the first video stream, in order, decoded from the
    start (seeking first lost frames on GRID's MPEG-PS files)."""
    import av

    frames: list[np.ndarray] = []
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        convert = av.video.reformatter.VideoReformatter()  # one converter per file (a new one per frame is 2x slower)
        try:
            for frame in container.decode(stream):
                frames.append(convert.reformat(frame, format="gray").to_ndarray())
                decoded += 1
                if len(frames) == block:
                    yield np.stack(frames)
                    frames = []
        except av.error.FFmpegError as err:
            raise AvsrInputError(path, f"corrupt video: decoding failed after {decoded} frames ({err})") from None
    if frames:
        yield np.stack(frames)
    elif decoded == 0:
        raise AvsrInputError(path, "corrupt video: no frame could be decoded")


def block_energy_db(audio: np.ndarray, sampling_rate: int = SAMPLING_RATE, block_seconds: float = GRID_SECONDS) -> np.ndarray:
    """RMS level in dB of consecutive ``block_seconds`` blocks (the last one zero-padded)."""
    n = int(round(block_seconds * sampling_rate))
    blocks = -(-len(audio) // n)
    x = np.zeros(blocks * n, np.float64)
    x[: len(audio)] = audio
    power = (x.reshape(blocks, n) ** 2).mean(axis=1)
    return 10.0 * np.log10(power + 1e-10)


@dataclass(frozen=True)
class Chunk:
    start: float  # seconds, a multiple of 40 ms
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def plan_chunks(duration: float, audio: Optional[np.ndarray], max_seconds: float = 10.0, min_pause: float = 0.4,
                sampling_rate: int = SAMPLING_RATE) -> list[Chunk]:
    """Cut ``[0, duration)`` into chunks of at most ``max_seconds``.

    A file no longer than ``max_seconds`` is one chunk (decoded exactly as a recipe decodes a cut).
    A longer one is cut in the middle of every pause of at least ``min_pause`` seconds (so each
    chunk keeps some silence at both ends, like a training clip, and a sentence-grammar model sees
    one sentence per chunk when sentences are separated by pauses); a piece still longer than
    ``max_seconds`` is cut at its quietest 200 ms. A pause is a run of 40 ms blocks below
    ``p10 + 0.25 (p90 − p10)`` of the file's block levels. Without audio the cuts are every
    ``max_seconds``. Boundaries are multiples of 40 ms.
    """
    total = int(round(duration / GRID_SECONDS))
    max_blocks = max(1, int(max_seconds / GRID_SECONDS))
    if total <= max_blocks:
        return [Chunk(0.0, total * GRID_SECONDS)]
    cuts: list[int] = []
    if audio is None or len(audio) == 0:
        cuts = list(range(max_blocks, total, max_blocks))
    else:
        db = block_energy_db(audio, sampling_rate)[:total]
        db = np.pad(db, (0, max(0, total - len(db))), constant_values=db.min() if len(db) else -100.0)
        lo, hi = np.percentile(db, 10), np.percentile(db, 90)
        silent = db < lo + 0.25 * (hi - lo)
        min_run = max(1, int(round(min_pause / GRID_SECONDS)))
        pause_cuts = [(s + e) // 2 for s, e in _runs(silent) if e - s >= min_run and s > 0 and e < total]
        smooth = np.convolve(db, np.ones(5) / 5, mode="same")  # quietest 200 ms
        start = 0
        for c in pause_cuts + [total]:
            while c - start > max_blocks:  # a piece without a long enough pause: its quietest point
                lo_i, hi_i = start + max_blocks // 2, start + max_blocks
                cut = lo_i + int(np.argmin(smooth[lo_i:hi_i]))
                cuts.append(cut)
                start = cut
            if c < total:
                cuts.append(c)
                start = c
    bounds = [0] + sorted(set(cuts)) + [total]
    return [Chunk(a * GRID_SECONDS, b * GRID_SECONDS) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` is True."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))
