#!/usr/bin/env python3
"""Train the self-supervised AV sync model (avsr.sync) on in-sync training cuts.

  steps/train_sync.py --cuts data/fbank/synthetic_grid_cuts_train.jsonl.gz --out exp/sync_multiway
  steps/train_sync.py --cuts ... --loss contrastive --out exp/sync_contrastive

No labels: every 0.2 s audio window is matched against the mouth windows at -K..+K frames of
the same clip (loss multiway: cross-entropy over the 2K+1 offsets, Perfect Match; contrastive:
SyncNet's pairwise loss). Writes OUT/model.pt (state dict) and OUT/model.json (configs,
history). One thread by default (conf train.num_threads); device auto (CUDA when present).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.data.manifests import load_cuts  # noqa: E402
from avsr.utils.cli import run_cli  # noqa: E402
from avsr.utils.errors import AvsrInputError  # noqa: E402
from avsr.utils.logging import setup_logging  # noqa: E402
from avsr.utils.provenance import record_command  # noqa: E402

CONF = Path(__file__).resolve().parents[1] / "conf" / "sync.yaml"
LOSSES = ("multiway", "contrastive")  # avsr.sync.train.LOSSES (imported lazily: --help stays fast without torch)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cuts", required=True, type=Path, action="append", help="training cut set(s); repeatable")
    p.add_argument("--valid-cuts", type=Path, help="cut set for the per-window validation accuracy in the log")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--conf", default=CONF, type=Path)
    p.add_argument("--loss", choices=LOSSES, help="default: train.loss of the conf")
    p.add_argument("--steps", type=int, help="default: train.steps of the conf")
    p.add_argument("--log-file", type=Path)
    args = p.parse_args()
    setup_logging(args.log_file)
    from avsr.sync.pipeline import SyncSettings, train_model

    settings = SyncSettings.load(args.conf)
    cuts = load_cuts(args.cuts[0])
    for extra in args.cuts[1:]:
        cuts = cuts + load_cuts(extra)
    if not len(cuts):
        raise AvsrInputError(args.cuts[0], "no training cuts")
    if not all(c.has_custom("mouth_roi") for c in cuts):
        raise AvsrInputError(args.cuts[0], "cuts without mouth_roi arrays: the sync model needs stage-3 video features")
    valid = load_cuts(args.valid_cuts) if args.valid_cuts else None
    _, info = train_model(cuts, settings, args.out, args.steps, args.loss, valid)
    record_command(args.out)
    last = info["history"][-1] if info["history"] else {}
    print(f"sync model ({args.loss or settings.train.loss}, {info['num_parameters']} parameters, "
          f"{info['num_train_clips']} clips): {info['seconds']} s, last {last} -> {args.out}")


if __name__ == "__main__":
    run_cli(main)
