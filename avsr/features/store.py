"""Stage 3: compute audio and video features for cut sets and attach them to the cuts.

- audio: 80-dim fbank in the cut's standard ``features`` slot (lhotse Features manifest,
  LilcomChunkyWriter) and 24-dim MFCC as a custom temporal array ``mfcc``;
- video: grayscale mouth crops as a custom temporal array ``mouth_roi`` [T, S, S] uint8 and
  their 2-D DCT coefficients ``roi_dct`` [T, 64] (frame shift 0.04 s, NumpyHdf5Writer), as
  lhotse's maintainers recommend for video features. Whatever the source frame rate, the arrays
  are at the models' 25 fps (:mod:`avsr.video.frame_rate`: faces are found at the source rate,
  the crops are resampled); the cut records the source rate as ``custom["video_source_fps"]``.

Noisy cuts (MixedCut) are mixed eagerly, like lhotse's ``compute_and_store_features``: the
result is a MonoCut with the same id and no recording; its video arrays are those of the
clean speech cut (the video stays clean).
"""
from __future__ import annotations

import logging
from concurrent.futures import Executor
from pathlib import Path
from typing import Mapping, Optional, Union

from lhotse import CutSet, Features, LilcomChunkyWriter, NumpyHdf5Writer
from lhotse.cut import Cut, MixedCut, MonoCut
from lhotse.utils import fastcopy
from tqdm import tqdm

from avsr.data.video_cuts import load_video_frames, speech_cut
from avsr.features.audio import FRAME_SHIFT, AudioFeatureConfig, compute_fbank, compute_mfcc
from avsr.utils.parallel import map_chunks
from avsr.video.frame_rate import resample_frames, resampled_length
from avsr.utils.errors import AvsrInputError

log = logging.getLogger(__name__)
PathLike = Union[str, Path]
MODEL_VIDEO_FPS = 25  # the rate every model reads video at
VIDEO_FRAME_SHIFT = 1.0 / MODEL_VIDEO_FPS
VIDEO_FIELDS = ("mouth_roi", "roi_dct")


def _audio_job(cut_dicts: list[dict], job: int, storage_stem: str, cfg: AudioFeatureConfig) -> list[dict]:
    out = []
    with LilcomChunkyWriter(f"{storage_stem}.fbank.{job}.lca", mode="w") as fbank_writer, LilcomChunkyWriter(
        f"{storage_stem}.mfcc.{job}.lca", mode="w"
    ) as mfcc_writer:
        for d in tqdm(cut_dicts, desc=f"audio features (job {job})", position=job, leave=False):
            cut = MonoCut.from_dict(d) if d.get("type") == "MonoCut" else MixedCut.from_dict(d)
            samples = cut.load_audio()[0]
            fbank = compute_fbank(samples, cfg)
            mfcc = compute_mfcc(samples, cfg)
            features = Features(
                type="kaldi-native-fbank",
                num_frames=fbank.shape[0],
                num_features=fbank.shape[1],
                frame_shift=FRAME_SHIFT,
                sampling_rate=cfg.sampling_rate,
                start=0.0 if isinstance(cut, MixedCut) else cut.start,
                duration=cut.duration,
                storage_type=fbank_writer.name,
                storage_path=str(fbank_writer.storage_path),
                storage_key=fbank_writer.write(cut.id, fbank),
                recording_id=cut.id if isinstance(cut, MixedCut) else cut.recording_id,
                channels=0,
            )
            mfcc_array = mfcc_writer.store_array(cut.id, mfcc, frame_shift=FRAME_SHIFT, temporal_dim=0, start=0.0)
            if isinstance(cut, MixedCut):
                clean = speech_cut(cut)
                new = MonoCut(
                    id=cut.id,
                    start=0.0,
                    duration=cut.duration,
                    channel=0,
                    supervisions=[fastcopy(s, recording_id=cut.id) for s in cut.supervisions],
                    features=features,
                    recording=None,
                    custom=dict(clean.custom or {}, clean_cut_id=clean.id),
                )
            else:
                new = fastcopy(cut, features=features)
            out.append(new.with_custom("mfcc", mfcc_array).to_dict())
    return out


def compute_audio_features(
    cuts: CutSet,
    storage_stem: PathLike,
    num_jobs: int = 1,
    cfg: AudioFeatureConfig = AudioFeatureConfig(),
    executor: Optional[Executor] = None,
    reuse: Optional[Mapping[str, Cut]] = None,
) -> CutSet:
    """fbank (→ ``features``) and MFCC (→ custom ``mfcc``) for every cut; noisy cuts are mixed eagerly.

    ``reuse``: features-attached clean cuts by id (e.g. the ``train`` set's): a clean cut with the
    same id, recording and span is taken from there instead of being computed again (the clean
    half of ``train_multi``)."""
    reuse = reuse or {}

    def reusable(cut: Cut) -> bool:
        old = reuse.get(cut.id)
        return (isinstance(cut, MonoCut) and old is not None and old.recording_id == cut.recording_id
                and old.start == cut.start and old.duration == cut.duration)

    todo = [c for c in cuts if not reusable(c)]
    Path(storage_stem).parent.mkdir(parents=True, exist_ok=True)
    dicts = map_chunks(_audio_job, [c.to_dict() for c in todo], num_jobs, str(storage_stem), cfg, executor=executor) if todo else []
    computed = {d["id"]: d for d in dicts}
    return CutSet.from_dicts(computed[c.id] if c.id in computed else reuse[c.id].to_dict() for c in cuts)


def _video_job(
    cut_dicts: list[dict], job: int, storage_stem: str, crop_size: int, num_dct: int, known_boxes: dict, locator
) -> list[tuple[dict, dict]]:
    import cv2

    from avsr.video.locator import locate_mouth  # cv2 (and dlib) only where needed
    from avsr.video.roi import roi_dct_features

    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would only contend
    out = []
    with NumpyHdf5Writer(f"{storage_stem}.video.{job}.h5", mode="w") as writer:
        for d in tqdm(cut_dicts, desc=f"mouth ROIs (job {job})", position=job, leave=False):
            cut = MonoCut.from_dict(d)
            frames = load_video_frames(cut)
            roi = locate_mouth(frames, locator, crop_size=crop_size, known_face_boxes=known_boxes.get(cut.recording_id))
            # Faces are tracked at the source rate; the crops go to the models' rate.
            src_fps = float(cut.recording.video.fps)
            crops = resample_frames(roi.crops, src_fps, MODEL_VIDEO_FPS)
            dct = roi_dct_features(crops, num_coeffs=num_dct)
            cut = cut.with_custom(
                "mouth_roi", writer.store_array(f"{cut.id}/roi", crops, frame_shift=VIDEO_FRAME_SHIFT, temporal_dim=0, start=0.0)
            ).with_custom(
                "roi_dct", writer.store_array(f"{cut.id}/dct", dct, frame_shift=VIDEO_FRAME_SHIFT, temporal_dim=0, start=0.0)
            ).with_custom("video_source_fps", src_fps)
            stats = {"cut_id": cut.id, "num_frames": int(len(frames)), "face_fraction": round(float(roi.face_fraction), 4),
                     "source": roi.source,
                     "source_fps": round(src_fps, 4), "model_frames": resampled_length(len(frames), src_fps, MODEL_VIDEO_FPS)}
            out.append((cut.to_dict(), stats))
    return out


def compute_video_features(
    cuts: CutSet,
    storage_stem: PathLike,
    num_jobs: int = 1,
    crop_size: int = 44,
    num_dct: int = 64,
    known_face_boxes: Optional[dict] = None,
    executor: Optional[Executor] = None,
    haar: Optional[dict] = None,
    locator=None,
) -> tuple[CutSet, list[dict]]:
    """Mouth crops and DCT features for every (clean) cut, plus per-clip ROI statistics.

    ``locator``: an :class:`avsr.video.locator.LocatorConfig` (which mouth locator and its
    settings); without it, the Haar locator with ``haar``, the keyword arguments of
    :func:`avsr.video.roi.detect_faces` (scale_factor, min_neighbors, min_face_fraction,
    max_detect_side, detect_every)."""
    from avsr.video.locator import LocatorConfig

    if locator is None:
        locator = LocatorConfig(haar=dict(haar or {}))
    for cut in cuts:
        if isinstance(cut, MixedCut):
            raise ValueError(f"video features are computed on clean cuts; {cut.id} is a mix")
    Path(storage_stem).parent.mkdir(parents=True, exist_ok=True)
    pairs = map_chunks(
        _video_job, [c.to_dict() for c in cuts], num_jobs, str(storage_stem), crop_size, num_dct, known_face_boxes or {}, locator,
        executor=executor,
    )
    return CutSet.from_dicts([d for d, _ in pairs]), [s for _, s in pairs]


def attach_video_fields(cuts: CutSet, video_cuts: CutSet) -> CutSet:
    """Give each (possibly noisy) cut the video arrays of its clean speech cut."""
    by_id = {c.id: c for c in video_cuts}

    def attach(cut: Cut) -> Cut:
        source = by_id.get(speech_cut(cut).id)
        if source is None:
            raise AvsrInputError(None, f"cut {cut.id}: no video features for {speech_cut(cut).id}: re-run stage 3")
        if isinstance(cut, MixedCut):
            tracks = [fastcopy(t, cut=attach(t.cut)) if i == 0 else t for i, t in enumerate(cut.tracks)]
            return fastcopy(cut, tracks=tracks)
        custom = dict(cut.custom or {})
        custom.update({k: source.custom[k] for k in VIDEO_FIELDS})
        if "video_source_fps" in source.custom:
            custom["video_source_fps"] = source.custom["video_source_fps"]
        return fastcopy(cut, custom=custom)

    return CutSet.from_cuts(attach(c) for c in cuts)


def check_av_alignment(cut: Cut, tolerance_s: float = 0.05) -> None:
    """Audio features, video arrays and supervision must cover the same time span."""
    audio_span = cut.num_frames * FRAME_SHIFT
    video_span = cut.mouth_roi.shape[0] * VIDEO_FRAME_SHIFT
    if abs(audio_span - cut.duration) > tolerance_s or abs(video_span - cut.duration) > tolerance_s:
        raise AvsrInputError(None, f"cut {cut.id}: audio {audio_span:.2f} s, video {video_span:.2f} s, cut {cut.duration:.2f} s disagree")
