#!/usr/bin/env python3
"""Export an E2E system to ONNX in sherpa-onnx's layout (transducer: encoder/decoder/joiner.onnx;
CTC: model.onnx; + tokens.txt, optional HLG.fst). See ``--help`` and docs/deploy.md."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avsr.deploy.cli import export_main  # noqa: E402

if __name__ == "__main__":
    export_main()
