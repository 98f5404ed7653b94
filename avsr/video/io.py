"""Video and audio-track I/O with PyAV.

lhotse only loads video through torchaudio's StreamReader (not installable here), so
decoding is ours. Always decode from the start of the stream: seeking to 0 first lost
frames on GRID's MPEG-PS files.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional, Union

import av
import numpy as np

from avsr.utils.errors import AvsrInputError
from avsr.utils.io import atomic_path

PathLike = Union[str, Path]


@dataclass(frozen=True)
class VideoProbe:
    fps: float
    num_frames: int
    width: int
    height: int
    has_audio: bool
    audio_sampling_rate: Optional[int]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def _open(path: PathLike) -> "av.container.InputContainer":
    path = Path(path)
    if not path.is_file():
        raise AvsrInputError(path, "video file not found")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as err:  # not a container at all
        raise AvsrInputError(path, f"corrupt video: cannot open the container ({getattr(err, 'strerror', None) or err})") from None


def read_video_frames(path: PathLike, gray: bool = True) -> np.ndarray:
    """All frames of the first video stream: uint8 [T, H, W] (gray) or [T, H, W, 3] (RGB)."""
    frames = []
    with _open(path) as container:
        if not container.streams.video:
            raise AvsrInputError(path, "no video stream")
        stream = container.streams.video[0]
        fmt = "gray" if gray else "rgb24"
        # One converter for the clip: frame.to_ndarray(format=...) builds a new one per frame (2x slower).
        convert = av.video.reformatter.VideoReformatter()
        try:
            for frame in container.decode(stream):
                frames.append(convert.reformat(frame, format=fmt).to_ndarray())
        except av.error.FFmpegError as err:
            raise AvsrInputError(path, f"corrupt video: decoding failed after {len(frames)} frames ({err})") from None
    if not frames:
        raise AvsrInputError(path, "corrupt video: no frame could be decoded")
    return np.stack(frames)


def probe_video(path: PathLike) -> VideoProbe:
    """Frame rate, frame count (by decoding: container headers lie), size and audio presence."""
    with _open(path) as container:
        if not container.streams.video:
            raise AvsrInputError(path, "no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if fps <= 0:
            raise AvsrInputError(path, "video stream has no frame rate")
        num_frames = 0
        width = height = 0
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    num_frames += 1
                    width, height = frame.width, frame.height
        except av.error.FFmpegError as err:
            raise AvsrInputError(path, f"corrupt video: decoding failed after {num_frames} frames ({err})") from None
        has_audio = bool(container.streams.audio)
        sr = container.streams.audio[0].rate if has_audio else None
    if num_frames == 0:
        raise AvsrInputError(path, "corrupt video: no frame could be decoded")
    return VideoProbe(fps=fps, num_frames=num_frames, width=width, height=height, has_audio=has_audio, audio_sampling_rate=sr)


def read_audio_track(path: PathLike, sampling_rate: int = 16000) -> np.ndarray:
    """The first audio stream of a media file, downmixed to mono and resampled: float32 [N]."""
    chunks = []
    with _open(path) as container:
        if not container.streams.audio:
            raise AvsrInputError(path, "video has no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sampling_rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):  # flush
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as err:
            raise AvsrInputError(path, f"corrupt audio track ({err})") from None
    if not chunks:
        raise AvsrInputError(path, "audio track is empty")
    return np.concatenate(chunks).astype(np.float32)


def write_av_mp4(
    path: PathLike,
    frames: np.ndarray,
    fps: Union[int, float, Fraction],
    audio: Optional[np.ndarray] = None,
    sampling_rate: int = 16000,
    crf: int = 18,
    audio_codec: str = "flac",
) -> None:
    """Encode gray uint8 frames [T, H, W] as H.264 (+ an audio track when given), atomically.

    H and W must be even (yuv420p). ``fps`` may be fractional (``Fraction(30000, 1001)`` or
    29.97). The audio track is FLAC by default: lossless (the track holds exactly the samples
    given, quantised to 16 bits) and a third of the CPU time of AAC, the former default
    (``audio_codec="aac"``). Encoding is deterministic for identical input.
    """
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W], got {frames.dtype} {frames.shape}")
    if audio_codec not in ("flac", "aac"):
        raise ValueError(f"audio_codec must be flac or aac, got {audio_codec!r}")
    _, height, width = frames.shape
    rate = Fraction(fps).limit_denominator(1001)  # 29.97 -> 2997/100; NTSC is Fraction(30000, 1001)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            vstream = container.add_stream("libx264", rate=rate)
            vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
            # One thread keeps encoding deterministic and leaves the other core to the other job.
            vstream.codec_context.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
            vstream.codec_context.thread_count = 1
            astream = None
            if audio is not None:
                astream = container.add_stream(audio_codec, rate=sampling_rate)
                astream.layout = "mono"
            # One shared converter: frame.reformat() would build a new one per frame (7x slower).
            to_yuv = av.video.reformatter.VideoReformatter()
            for i, img in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="gray")
                frame = to_yuv.reformat(frame, format="yuv420p")
                frame.pts = i
                frame.time_base = 1 / rate
                for packet in vstream.encode(frame):
                    container.mux(packet)
            for packet in vstream.encode(None):
                container.mux(packet)
            if astream is not None:
                _encode_audio(container, astream, audio, sampling_rate, audio_codec)


def _encode_audio(container, astream, audio: np.ndarray, sampling_rate: int, codec: str) -> None:
    samples = np.clip(audio.astype(np.float32), -1.0, 1.0).reshape(1, -1)
    if codec == "flac":
        # x / 32768 -> x exactly: a wav's PCM16 samples pass through unchanged.
        samples = np.clip(np.rint(samples * 32768.0), -32768, 32767).astype(np.int16)
        fmt = "s16"
    else:
        fmt = "flt"
    block = astream.codec_context.frame_size or 1024
    for start in range(0, samples.shape[1], block):
        chunk = np.ascontiguousarray(samples[:, start : start + block])
        aframe = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
        aframe.sample_rate = sampling_rate
        aframe.pts = start
        aframe.time_base = Fraction(1, sampling_rate)
        for packet in astream.encode(aframe):
            container.mux(packet)
    for packet in astream.encode(None):
        container.mux(packet)
