#!/usr/bin/env python3
"""Stage 2: noisy copies of cut sets (white noise and babble at fixed SNRs); the video stays clean.

Writes noise recordings to --noise-dir, their manifest to
``<manifest-dir>/<corpus>_recordings_noise.jsonl.gz``, and one cut set per split and condition:
``<manifest-dir>/<corpus>_cuts_<split>_<type>_snr<N>.jsonl.gz`` (lhotse MixedCuts), plus an
optional multi-condition training set ``<corpus>_cuts_train_multi.jsonl.gz``.
"""
import argparse
import logging
from pathlib import Path

from lhotse import CutSet, RecordingSet

from avsr.data.manifests import load_cuts, manifest_path, save_cuts
from avsr.data.noise import make_babble, make_white_noise, mix_condition, multi_condition, parse_conditions
from avsr.utils.cli import run_cli
from avsr.utils.config import load_yaml
from avsr.utils.io import atomic_path
from avsr.utils.logging import setup_logging



def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest-dir", required=True, type=Path)
    p.add_argument("--corpus", required=True)
    p.add_argument("--noise-dir", required=True, type=Path)
    p.add_argument("--conf", type=Path, default=Path("conf/noise.yaml"))
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    conf = load_yaml(args.conf)
    sr = 16000

    def load(split: str) -> CutSet:
        return load_cuts(manifest_path(args.manifest_dir, args.corpus, "cuts", split))

    noise_manifest = manifest_path(args.manifest_dir, args.corpus, "recordings", "noise")
    if noise_manifest.is_file():
        noise = RecordingSet.from_file(noise_manifest)
    else:
        recordings = [make_white_noise(args.noise_dir / "white_00.wav", conf["white"]["duration_s"], sr, args.seed)]
        if "babble" in conf["noise_types"]:
            source = load(conf["babble"]["source_split"])
            for i in range(conf["babble"]["num_recordings"]):
                recordings.append(
                    make_babble(
                        args.noise_dir / f"babble_{i:02d}.wav",
                        source,
                        conf["babble"]["num_talkers"],
                        conf["babble"]["duration_s"],
                        sr,
                        seed=args.seed * 1000 + i,
                    )
                )
        noise = RecordingSet.from_recordings(recordings)
        with atomic_path(noise_manifest) as tmp:
            noise.to_file(tmp)
    logging.info("noise recordings: %s", ", ".join(noise.ids))

    conditions = parse_conditions(conf["noise_types"], conf["snrs_db"])
    for split in conf["noisy_splits"]:
        cuts = None
        for cond in conditions:
            out = manifest_path(args.manifest_dir, args.corpus, "cuts", f"{split}_{cond.name}")
            if out.is_file():
                continue
            cuts = cuts if cuts is not None else load(split)
            save_cuts(mix_condition(cuts, noise, cond, args.seed), out)
            logging.info("wrote %s (%d cuts)", out, len(cuts))
    multi = conf.get("multi_condition_train", {})
    if multi.get("enabled"):
        out = manifest_path(args.manifest_dir, args.corpus, "cuts", "train_multi")
        if not out.is_file():
            train_conditions = parse_conditions(conf["noise_types"], multi["snrs_db"])
            save_cuts(multi_condition(load("train"), noise, train_conditions, multi["clean_prob"], args.seed), out)
            logging.info("wrote %s", out)


if __name__ == "__main__":
    run_cli(main)
