#!/usr/bin/env python3
"""Noisy copies of a folder being decoded (egs/grid/local/decode_corpus.sh): white noise, or
babble made of the folder's *other* clips (each clip's babble track never contains it; see
avsr.corpora.grid.folder_noise). Reads <manifest-dir>/<corpus>_cuts_<set>.jsonl.gz and writes
<manifest-dir>/<corpus>_cuts_<set>_<noise>_snr<N>.jsonl.gz for each --snr (skipped if it exists).

Example:
  egs/grid/local/make_folder_noise.py --manifest-dir work/data/manifests --noise-dir work/data/noise \\
      --noise babble --snr 0 -5
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's avsr, whatever the venv has

from avsr.corpora.grid.folder_noise import folder_noisy_copy
from avsr.data.manifests import load_cuts, manifest_path, save_cuts
from avsr.data.noise import NOISE_TYPES, NoiseCondition
from avsr.utils.cli import run_cli
from avsr.utils.config import load_yaml
from avsr.utils.logging import setup_logging

REPO = Path(__file__).resolve().parents[3]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest-dir", required=True, type=Path)
    p.add_argument("--noise-dir", required=True, type=Path, help="where the noise tracks go")
    p.add_argument("--corpus", default="grid")
    p.add_argument("--set", default="test", help="the clean cut set (default: %(default)s)")
    p.add_argument("--noise", required=True, choices=NOISE_TYPES)
    p.add_argument("--snr", required=True, type=float, nargs="+", help="SNR(s) in dB")
    p.add_argument("--conf", type=Path, default=REPO / "conf" / "noise.yaml", help="babble talkers and track length (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    babble = load_yaml(args.conf).get("babble", {})
    cuts = None
    for snr in args.snr:
        cond = NoiseCondition(args.noise, snr)
        out = manifest_path(args.manifest_dir, args.corpus, "cuts", f"{args.set}_{cond.name}")
        if out.is_file():
            logging.info("%s exists: skipped", out)
            continue
        cuts = cuts if cuts is not None else load_cuts(manifest_path(args.manifest_dir, args.corpus, "cuts", args.set))
        noisy = folder_noisy_copy(cuts, cond, args.noise_dir, args.seed, babble.get("num_talkers", 6), babble.get("duration_s", 30.0))
        save_cuts(noisy, out)
        print(f"{out}: {len(noisy)} cuts ({cond.name})")


if __name__ == "__main__":
    run_cli(main)
