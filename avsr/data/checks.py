"""Checks every clip (paired audio-visual, or audio-only) must pass before it enters a manifest.

Each failing check raises :class:`AvsrInputError` naming the file and the problem, so a
single-clip command exits with one line, and a corpus run lists the clip in ``bad_cuts``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Optional

import soundfile as sf

from avsr.data.types import UttRecord
from avsr.utils.errors import AvsrInputError
from avsr.video.io import VideoProbe, probe_video

# GRID's audio ends ~22 ms before its last video frame: one frame of slack is normal.
MAX_AV_MISMATCH_FRAMES = 1.0
# Any frame rate in this range is accepted: stage 3 resamples the mouth crops to the models'
# 25 fps (avsr.video.frame_rate) and records the source rate in the cut. Outside it a container's
# rate is taken to be broken rather than real.
FPS_RANGE = (5.0, 240.0)


@dataclass(frozen=True)
class AudioProbe:
    sampling_rate: int
    num_samples: int
    num_channels: int

    @property
    def duration(self) -> float:
        return self.num_samples / self.sampling_rate


def probe_audio(path: str, expected_sampling_rate: int = 16000) -> AudioProbe:
    """Check a wav: readable, mono, the expected sampling rate, not empty."""
    if not Path(path).is_file():
        raise AvsrInputError(path, "audio file not found")
    try:
        info = sf.info(path)
    except Exception as err:  # soundfile raises its own RuntimeError subclasses
        raise AvsrInputError(path, f"unreadable audio ({err})") from None
    if info.samplerate != expected_sampling_rate:
        raise AvsrInputError(path, f"wrong sample rate: {info.samplerate} Hz, expected {expected_sampling_rate} Hz")
    if info.channels != 1:
        raise AvsrInputError(path, f"expected mono audio, found {info.channels} channels")
    if info.frames == 0:
        raise AvsrInputError(path, "audio file is empty")
    return AudioProbe(info.samplerate, info.frames, info.channels)


def check_transcript(rec: UttRecord, vocabulary: Optional[Collection[str]]) -> None:
    where = rec.audio_path
    words = rec.text.split()
    if not words:
        raise AvsrInputError(where, f"empty transcript for {rec.utt_id}")
    if vocabulary is not None:
        oov = [w for w in words if w not in vocabulary]
        if oov:
            raise AvsrInputError(where, f"word {oov[0]!r} of {rec.utt_id} is not in the vocabulary (OOV)")


def check_av_lengths(rec: UttRecord, audio: AudioProbe, video: VideoProbe) -> None:
    if not FPS_RANGE[0] <= video.fps <= FPS_RANGE[1]:
        raise AvsrInputError(rec.video_path, f"implausible frame rate {video.fps:g} fps (expected {FPS_RANGE[0]:g}-{FPS_RANGE[1]:g})")
    needed = audio.duration * video.fps
    if abs(video.num_frames - needed) > MAX_AV_MISMATCH_FRAMES + 1e-6:
        raise AvsrInputError(
            rec.video_path,
            f"video has {video.num_frames} frames, audio {audio.duration:.3f} s needs {round(needed)} "
            f"(±{MAX_AV_MISMATCH_FRAMES:g}): AV length mismatch",
        )


def check_record(
    rec: UttRecord,
    vocabulary: Optional[Collection[str]] = None,
    expected_sampling_rate: int = 16000,
    require_audio_track: bool = True,
) -> tuple[AudioProbe, Optional[VideoProbe]]:
    """Run every check on one clip; returns the audio and video probes when it passes.

    An audio-only record (``video_path`` None) gets the transcript and audio checks only, and
    its video probe is None."""
    check_transcript(rec, vocabulary)
    audio = probe_audio(rec.audio_path, expected_sampling_rate)
    if rec.video_path is None:
        return audio, None
    video = probe_video(rec.video_path)
    if require_audio_track and not video.has_audio:
        raise AvsrInputError(rec.video_path, "video has no audio track")
    check_av_lengths(rec, audio, video)
    return audio, video
