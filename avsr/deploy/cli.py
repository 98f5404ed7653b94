"""Command lines of the deployment tools: ``steps/transcribe.py`` (= the ``avsr-transcribe``
console script) and ``steps/export_onnx.py``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from avsr.utils.cli import run_cli

TRANSCRIBE_DOC = """Transcribe media files with a trained system of an experiment directory.

Any mp4/mkv/avi/mpg/mov (with or without an audio track) or wav/flac/ogg file goes through the
recipe's own preprocessing (16 kHz audio, fbank/MFCC, face and mouth ROI at 25 fps) and is
decoded with the system's best-scoring method (or --method / --graph). Prints one line per file,
"<file> <words>", and, with --ctm, word times. Long files are cut at pauses into chunks of at
most --max-chunk-seconds and decoded chunk by chunk.

  avsr-transcribe --exp exp --system ctc_att_av_bilinear clip.mp4
  avsr-transcribe --exp exp --system transducer_av_bilinear --method modified_beam --ctm - talk.mkv
  avsr-transcribe --exp exp --system hybrid_factored --ctm out.ctm s1/bbaf2n.mpg

Files without a face decode AV models with the video stream removed (a warning says so), files
without audio with the audio stream removed; a system that needs the missing stream is an error.
With a lexicon graph (HLG, LG, HCLG) the output vocabulary is closed: words outside the graph's
words.txt cannot be recognised, by construction (with the GRID grammar every output is a GRID
sentence).
"""


def transcribe_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="avsr-transcribe", description=TRANSCRIBE_DOC,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--exp", required=True, help="experiment directory (e.g. exp), or a system directory itself")
    p.add_argument("--system", help="system directory name under --exp (e.g. ctc_att_av_bilinear, hybrid_factored)")
    p.add_argument("--method", help="E2E search: ctc_greedy ctc_prefix_beam attention_beam joint_ctc_attention hlg_1best "
                   "greedy beam modified_beam fst_beam (default: the system's best-scoring one)")
    p.add_argument("--graph", help="graph dir for hlg_1best / fst_beam / hybrid HCLG (default: the one the recipe used)")
    p.add_argument("--ctm", help="write word times (CTM) to this file ('-': stdout)")
    p.add_argument("--epoch", type=int, help="E2E: last epoch to use (default: the latest)")
    p.add_argument("--avg", type=int, default=1, help="E2E: average this many epochs ending at --epoch")
    p.add_argument("--beam", type=int, default=8, help="CTC prefix / attention beam")
    p.add_argument("--transducer-beam", type=int, default=4)
    p.add_argument("--max-sym-per-frame", type=int, default=3)
    p.add_argument("--hlg-beam", type=float, default=20.0)
    p.add_argument("--graph-scale", type=float, default=1.0, help="fst_beam: weight of the graph's LM costs")
    p.add_argument("--max-chunk-seconds", type=float, default=10.0, help="longer files are cut at pauses")
    p.add_argument("--min-pause", type=float, default=0.4, help="shortest pause (s) a long file is cut at")
    p.add_argument("--features-conf", help="stage-3 settings (default: conf/features.yaml of this checkout)")
    p.add_argument("--corpus", help="picks the mouth locator of conf/features.yaml's video.locator map "
                   "(default: the system's training corpus)")
    p.add_argument("--locator", choices=["haar", "landmarks"], help="mouth locator (default: the one the system's "
                   "training data was made with, from its stage-3 roi_stats.json; else conf/features.yaml's)")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--num-threads", type=int, default=2)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no notes on stderr")
    return p


def _training_corpus(exp: str, system: Optional[str]) -> Optional[str]:
    """The corpus a system was trained on: E2E config.yaml's data.corpus, else the --corpus of
    the training command the recipe recorded (command.txt)."""
    import shlex

    import yaml

    d = Path(exp) / (system or "")
    if (d / "config.yaml").is_file():
        corpus = ((yaml.safe_load((d / "config.yaml").read_text()) or {}).get("data") or {}).get("corpus")
        if corpus:
            return corpus
    if (d / "command.txt").is_file():
        words = shlex.split((d / "command.txt").read_text().splitlines()[0] if (d / "command.txt").read_text() else "")
        if "--corpus" in words[:-1]:
            return words[words.index("--corpus") + 1]
    return None


def _training_locator(exp: str, system: Optional[str]) -> Optional[str]:
    """The mouth locator the system's training data was made with: ``locator`` in stage 3's
    data/video/roi_stats.json (a report without the key predates the landmark locator: Haar)."""
    import json
    import shlex

    import yaml

    d = Path(exp) / (system or "")
    data_dir = None
    if (d / "config.yaml").is_file():
        data_dir = ((yaml.safe_load((d / "config.yaml").read_text()) or {}).get("data") or {}).get("dir")
    if data_dir is None and (d / "command.txt").is_file():
        text = (d / "command.txt").read_text()
        words = shlex.split(text.splitlines()[0]) if text.strip() else []
        if "--feature-dir" in words[:-1]:
            data_dir = str(Path(words[words.index("--feature-dir") + 1]).parent)
    stats = Path(data_dir) / "video" / "roi_stats.json" if data_dir else None
    if stats is None or not stats.is_file():
        return None
    return json.loads(stats.read_text()).get("locator", "haar")


def transcribe_main(argv: Optional[Sequence[str]] = None) -> None:
    args = transcribe_parser().parse_args(argv)

    def main() -> None:
        import torch

        from avsr.deploy import ctm
        from avsr.deploy.features import FeatureSettings, default_features_conf
        from avsr.deploy.transcribe import TranscribeOptions, Transcriber
        from avsr.e2e.decode import SearchOptions
        from avsr.utils.config import load_yaml
        from avsr.utils.io import write_text_atomic

        torch.set_num_threads(max(1, args.num_threads))
        conf_path = args.features_conf or default_features_conf()
        corpus = args.corpus or _training_corpus(args.exp, args.system)
        settings = FeatureSettings.from_conf(load_yaml(conf_path) if conf_path else None, corpus)
        locator = args.locator or _training_locator(args.exp, args.system)
        if locator:  # what the training data was made with beats today's conf/features.yaml
            settings.video_conf = dict(settings.video_conf, locator=locator)
        opts = TranscribeOptions(
            method=args.method, graph=args.graph, epoch=args.epoch, avg=args.avg, max_chunk_seconds=args.max_chunk_seconds,
            min_pause=args.min_pause, features=settings, device=args.device, progress=not args.no_progress,
            search=SearchOptions(beam=args.beam, transducer_beam=args.transducer_beam, max_sym_per_frame=args.max_sym_per_frame,
                                 hlg_beam=args.hlg_beam, graph_scale=args.graph_scale))
        transcriber = Transcriber(args.exp, args.system, opts)
        say = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
        for note in transcriber.notes:
            say(f"note: {note}")
        lines = []
        for f in args.files:
            t = transcriber.transcribe(f)
            for note in t.notes:
                say(f"{f}: {note}" if note.startswith("warning") else f"{f}: note: {note}")
            say(f"{f}: {t.duration:.2f} s decoded as {t.modality} in {t.seconds:.2f} s (RTF {t.seconds / max(t.duration, 1e-9):.2f})")
            print(f"{f} {t.text}".rstrip(), flush=True)
            lines.append(ctm.ctm_lines(Path(f).stem, t.words))
        if args.ctm == "-":
            sys.stdout.write("".join(lines))
        elif args.ctm:
            write_text_atomic(args.ctm, "".join(lines))

    run_cli(main)


def export_parser() -> argparse.ArgumentParser:
    from avsr.deploy import export_onnx

    p = argparse.ArgumentParser(description=export_onnx.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, help="experiment directory (or a system directory itself)")
    p.add_argument("--system", help="E2E system directory name under --exp (e.g. transducer_a)")
    p.add_argument("--out", required=True, help="output directory (replaced atomically)")
    p.add_argument("--head", choices=["ctc", "transducer"], help="default: the model's own kind")
    p.add_argument("--epoch", type=int)
    p.add_argument("--avg", type=int, default=1)
    p.add_argument("--drop", choices=["audio", "video"], help="export an AV model with this stream removed")
    p.add_argument("--hlg-dir", help="CTC export: copy this HLG graph (HLG.fst, words.txt) for sherpa-onnx's ctc_graph")
    p.add_argument("--sample-scale", choices=["unit", "int16"],
                   help="x = fbank of samples in [-1, 1] (unit: sherpa-onnx's default) or in the int16 range (exact stage-3 "
                   "features; sherpa-onnx: samples x 32768 or normalize_samples=False). Default: int16 for models with "
                   "per-utterance mean removal and AV/video models, else unit")
    return p


def export_main(argv: Optional[Sequence[str]] = None) -> None:
    args = export_parser().parse_args(argv)

    def main() -> None:
        import torch

        from avsr.deploy.export_onnx import export_model
        from avsr.deploy.systems import system_dir

        torch.set_num_threads(2)
        res = export_model(system_dir(args.exp, args.system), args.out, args.head, args.epoch, args.avg, args.drop,
                           args.hlg_dir, args.sample_scale)
        for name, size in res.files.items():
            print(f"{res.out_dir / name}  {size / 1e6:.2f} MB")
        print(f"max |onnxruntime - torch| on a padded check batch: {res.max_abs_diff}")

    run_cli(main)
