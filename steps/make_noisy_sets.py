#!/usr/bin/env python3
"""Stage 2: noisy copies of cut sets (white noise and babble at fixed SNRs); the video stays clean.

Training noise (babble of training talkers, white noise from training seeds) and test noise
(babble of talkers never used in training, white noise from other seeds) are disjoint. Writes
the noise under --noise-dir (train/, test/, train_noise_recordings.jsonl.gz for on-the-fly
mixing, test_noise_recordings.jsonl.gz, noise_sources.json), and in --manifest-dir one cut set
per split and condition: ``<corpus>_cuts_<split>_<type>_snr<N>.jsonl.gz`` (test noise),
``..._<type>matched_snr<N>`` (training noise, conf ``matched_test_sets``), the multi-condition
training set ``<corpus>_cuts_train_multi.jsonl.gz`` (training noise only) and
``<corpus>_recordings_noise.jsonl.gz``. Details: avsr/data/noise_sets.py.
"""
import argparse
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's avsr, whatever the venv has

from avsr.data.noise_sets import make_noisy_sets
from avsr.utils.cli import run_cli
from avsr.utils.config import load_yaml
from avsr.utils.logging import setup_logging


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest-dir", required=True, type=Path)
    p.add_argument("--corpus", required=True)
    p.add_argument("--noise-dir", required=True, type=Path)
    p.add_argument("--conf", type=Path, default=Path("conf/noise.yaml"))
    p.add_argument("--index-dir", type=Path,
                   help="stage-0 index with noise_talkers.jsonl (talkers made for the test babble only); "
                        "default: <manifest-dir>/../local/<corpus> when it exists")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    index_dir = args.index_dir
    if index_dir is None:
        guess = args.manifest_dir.parent / "local" / args.corpus  # run.sh's layout: $data/{manifests,local/<corpus>}
        index_dir = guess if guess.is_dir() else None
    record = make_noisy_sets(args.manifest_dir, args.corpus, args.noise_dir, load_yaml(args.conf), args.seed, index_dir)
    test = record["test"]
    print(f"stage 2: test noise {record['test_noise']}"
          + (f" (babble from {test['babble_source']}: {', '.join(test['babble_talkers'])})" if test.get("babble_source") else "")
          + f"; {len(record['sets'])} noisy sets -> {args.manifest_dir}; sources: {args.noise_dir / 'noise_sources.json'}")


if __name__ == "__main__":
    run_cli(main)
