#!/usr/bin/env python3
"""Stage 3: audio (fbank 80 + MFCC 24) and video (mouth ROI crops + DCT) features.

Video features are computed once per clean split (train/dev/test and any extra dev_*/test_*
split stage 1 made, see avsr.data.splits) and shared by its noisy copies. Every cut set
``<manifest-dir>/<corpus>_cuts_<set>.jsonl.gz`` gets a features-attached copy ``<out-dir>/<corpus>_cuts_<set>.jsonl.gz``; ``<video-dir>/roi_stats.json`` records, per
clip, the fraction of frames in which the mouth locator (``video.locator`` in the config: Haar
face detection, or dlib landmarks with a Haar fallback) found the face, and where the boxes came from.

Audio-only corpora: with ``--no-video``, or automatically when no clean cut has a video source,
the video part is skipped (no ``<video-dir>`` outputs) and the cuts get fbank + MFCC only.
"""
import argparse
import json
import logging
from collections import Counter
from pathlib import Path

from lhotse import CutSet

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.data.manifests import load_cuts, save_cuts
from avsr.data.records import read_records
from avsr.data.splits import clean_splits, cut_set_names
from avsr.data.video_cuts import has_video
from avsr.features.audio import AudioFeatureConfig
from avsr.features.roi_sheet import roi_contact_sheet
from avsr.features.store import attach_video_fields, compute_audio_features, compute_video_features
from avsr.utils.cli import run_cli
from avsr.utils.config import load_yaml
from avsr.utils.errors import AvsrInputError
from avsr.utils.io import write_json_atomic
from avsr.utils.logging import setup_logging
from avsr.utils.parallel import job_pool
from avsr.video.locator import LocatorConfig



def _known_face_boxes(index_dir: Path | None, split: str) -> dict:
    """Face boxes the data generator knows (embedded corpus); only a fallback for the detector."""
    if index_dir is None or not (index_dir / f"{split}.jsonl").is_file():
        return {}
    return {r.utt_id: r.face_boxes for r in read_records(index_dir / f"{split}.jsonl") if r.face_boxes}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest-dir", required=True, type=Path)
    p.add_argument("--corpus", required=True)
    p.add_argument("--out-dir", required=True, type=Path, help="features-attached cut sets + audio feature storage")
    p.add_argument("--video-dir", required=True, type=Path, help="mouth ROI storage + roi_stats.json")
    p.add_argument("--index-dir", type=Path, help="stage-0 records (face boxes known to a generator, if any)")
    p.add_argument("--conf", type=Path, default=Path(__file__).resolve().parents[1] / "conf" / "features.yaml")
    p.add_argument("--no-video", action="store_true",
                   help="audio features only (automatic when no clean cut has a video source)")
    p.add_argument("--nj", type=int, default=2)
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    conf = load_yaml(args.conf)
    audio_cfg = AudioFeatureConfig(
        num_mel_bins=conf["audio"]["num_mel_bins"],
        num_ceps=conf["audio"]["num_ceps"],
        mfcc_mel_bins=conf["audio"]["mfcc_mel_bins"],
        frame_length_ms=conf["audio"]["frame_length_ms"],
        frame_shift_ms=conf["audio"]["frame_shift_ms"],
    )
    sets = cut_set_names(args.manifest_dir, args.corpus)

    use_video = not args.no_video and corpus_has_video(args.manifest_dir, args.corpus, sets)
    if not use_video:
        reason = "--no-video" if args.no_video else "no cut has a video source"
        logging.info("audio-only: skipping video features (%s)", reason)
    with job_pool(args.nj) as pool:
        all_video = video_stage(args, conf, sets, pool) if use_video else None
        audio_stage(args, audio_cfg, sets, all_video, pool)


def corpus_has_video(manifest_dir: Path, corpus: str, sets: list[str]) -> bool:
    """True when every clean cut has a video source, False when none has; a mix is an error
    (video features would be missing for some cuts and the AV systems could not train)."""
    with_video = without = 0
    for split in clean_splits(sets):
        for cut in load_cuts(manifest_dir / f"{corpus}_cuts_{split}.jsonl.gz"):
            if has_video(cut):
                with_video += 1
            else:
                without += 1
    if with_video and without:
        raise AvsrInputError(manifest_dir, f"{without} of {with_video + without} {corpus} cuts have no video: "
                             "give every record a video (or none), or pass --no-video")
    return with_video > 0


def video_stage(args: argparse.Namespace, conf: dict, sets: list[str], pool) -> CutSet:
    """Mouth ROIs once per clean split (noisy copies share them); ROI report and contact sheets."""
    video_cuts = []
    for split in clean_splits(sets):
        out = args.video_dir / f"{args.corpus}_cuts_{split}.jsonl.gz"
        stats_out = args.video_dir / f"roi_stats_{split}.json"
        if not (out.is_file() and stats_out.is_file()):
            cuts = load_cuts(args.manifest_dir / f"{args.corpus}_cuts_{split}.jsonl.gz")
            with_video, stats = compute_video_features(
                cuts,
                args.video_dir / f"{args.corpus}_{split}",
                num_jobs=args.nj,
                crop_size=conf["video"]["crop_size"],
                num_dct=conf["video"]["num_dct"],
                known_face_boxes=_known_face_boxes(args.index_dir, split),
                executor=pool,
                locator=LocatorConfig.from_video_conf(conf["video"], args.corpus),
            )
            write_json_atomic(stats_out, stats)
            save_cuts(with_video, out)
            if len(with_video):
                roi_contact_sheet(with_video, args.video_dir / f"contact_sheet_{split}.png")
        video_cuts.extend(load_cuts(out))

    clips = [s for split in clean_splits(sets) if (args.video_dir / f"roi_stats_{split}.json").is_file()
             for s in json.loads((args.video_dir / f"roi_stats_{split}.json").read_text())]
    frames = sum(s["num_frames"] for s in clips)
    detected = sum(s["face_fraction"] * s["num_frames"] for s in clips)
    locator = LocatorConfig.from_video_conf(conf["video"], args.corpus).locator
    sources = dict(sorted(Counter(s.get("source", "haar") for s in clips).items()))  # fallbacks are counted here
    write_json_atomic(args.video_dir / "roi_stats.json", {
        "num_clips": len(clips), "num_frames": frames, "locator": locator, "sources": sources,
        "face_fraction": round(detected / max(frames, 1), 4), "clips": clips})
    logging.info("mouth ROI (%s locator): found in %.1f%% of %d frames (%d clips; boxes from %s)", locator,
                 100 * detected / max(frames, 1), frames, len(clips), ", ".join(f"{k}: {v}" for k, v in sources.items()))
    return CutSet.from_cuts(video_cuts)


def audio_stage(args: argparse.Namespace, audio_cfg: AudioFeatureConfig, sets: list[str], all_video: CutSet | None, pool) -> None:
    """Every set (clean, noisy, multi-condition); noisy sets reuse their clean video arrays
    (``all_video`` None: audio-only, nothing to attach)."""
    clean = {}  # features of the clean splits: the clean cuts of train_multi reuse them
    clean_names = clean_splits(sets)
    for name in sorted(sets, key=lambda n: n not in clean_names):
        out = args.out_dir / f"{args.corpus}_cuts_{name}.jsonl.gz"
        if out.is_file():
            logging.info("%s: features exist, skipping", out)
            if name in clean_names:
                clean.update((c.id, c) for c in load_cuts(out))
            continue
        cuts = load_cuts(args.manifest_dir / f"{args.corpus}_cuts_{name}.jsonl.gz")
        if all_video is not None:
            cuts = attach_video_fields(cuts, all_video)
        feats = compute_audio_features(cuts, args.out_dir / "storage" / f"{args.corpus}_{name}",
                                       num_jobs=args.nj, cfg=audio_cfg, executor=pool, reuse=clean)
        if name in clean_names:
            clean.update((c.id, c) for c in feats)
        save_cuts(feats, out)
        logging.info("wrote %s (%d cuts)", out, len(feats))


if __name__ == "__main__":
    run_cli(main)
