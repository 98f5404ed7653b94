#!/usr/bin/env bash
# Prepare some real GRID clips (egs/grid stages 0-3, through the top-level pipeline) and decode
# them with the models the top-level ./run.sh trained on the embedded corpus; prints %WER lines.
#   egs/grid/local/decode_with_embedded_model.sh --corpus-dir /work/shared/fixtures/grid_sample
# Options: --corpus-dir DIR (required, read only), --work DIR (default egs/grid/exp/embedded_demo),
#          --model-exp DIR (default <repo>/exp), --lang DIR (default <repo>/data/lang_espeak), --nj N
set -euo pipefail
invocation_dir=$PWD
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
corpus_dir= work=$root/egs/grid/exp/embedded_demo model_exp=$root/exp lang=$root/data/lang_espeak nj=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --corpus-dir) corpus_dir=$2 ;; --work) work=$2 ;; --model-exp) model_exp=$2 ;; --lang) lang=$2 ;; --nj) nj=$2 ;;
    *) echo "$0: unknown option $1 (see the header of this script)" >&2; exit 1 ;;
  esac
  shift 2
done
[[ -n $corpus_dir ]] || { echo "error: --corpus-dir is required (e.g. the two sample clips)" >&2; exit 1; }
abs() { [[ $1 = /* ]] && echo "$1" || echo "$invocation_dir/$1"; }
corpus_dir=$(abs "$corpus_dir") work=$(abs "$work") model_exp=$(abs "$model_exp") lang=$(abs "$lang")
mkdir -p "$work"
bash "$root/egs/grid/run.sh" --corpus-dir "$corpus_dir" --data "$work/data" --exp "$work/exp" --stop-stage 3 --nj "$nj"
"$root/.venv/bin/python" "$here/decode_with_embedded_model.py" --model-exp "$model_exp" --lang "$lang" \
  --grid-data "$work/data" --out-dir "$work/decode" --log-file "$work/decode.log"
