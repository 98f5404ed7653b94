#!/usr/bin/env bash
# Build decoding graphs for a lexicon x LM, reusing an existing model (no retraining).
#
#   steps/make_graph.sh --lang data/lang_X --lm data/lm/Y [--kind hlg|hclg|lg] [--model exp/M] [--out DIR]
#                       [--lexicon FILE --lexicon-source espeak|cmudict|grapheme|file]
#                       [--lm-text FILE --lm-order 3]
#
# With --lexicon, data/lang_X is (re)prepared first (skipped if unchanged; with --model, phone
# ids are taken from the model's tokens.txt). With --lm-text, data/lm/Y is (re)trained first.
# Each step skips itself when the hashes of its inputs are unchanged, so the command rebuilds
# only L, G and the graph that depend on what changed; the model dir is only read.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-$here/../.venv/bin/python}
[ -x "$py" ] || py=python3

lang= lm= kind=hlg model= out= lexicon= lexicon_source=espeak lm_text= lm_order=3 force=
while [ $# -gt 0 ]; do
  case "$1" in
    --lang) lang=$2; shift 2;;
    --lm) lm=$2; shift 2;;
    --kind) kind=$2; shift 2;;
    --model) model=$2; shift 2;;
    --out) out=$2; shift 2;;
    --lexicon) lexicon=$2; shift 2;;
    --lexicon-source) lexicon_source=$2; shift 2;;
    --lm-text) lm_text=$2; shift 2;;
    --lm-order) lm_order=$2; shift 2;;
    --force) force=--force; shift;;
    -h|--help) sed -n '2,13p' "$0"; exit 0;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 1;;
  esac
done
[ -n "$lang" ] && [ -n "$lm" ] || { echo "error: --lang and --lm are required (see --help)" >&2; exit 1; }

if [ -n "$lexicon" ]; then
  phone_table=()
  [ -n "$model" ] && [ -f "$model/tokens.txt" ] && phone_table=(--phone-table "$model/tokens.txt")  # CTC
  [ -n "$model" ] && [ -f "$model/phones.txt" ] && phone_table=(--phone-table "$model/phones.txt")  # GMM/hybrid
  "$py" "$here/prepare_lang.py" --source "$lexicon_source" --lexicon "$lexicon" "${phone_table[@]}" $force "$lang"
fi
if [ -n "$lm_text" ]; then
  "$py" "$here/make_lm.py" --kind ngram --order "$lm_order" --text "$lm_text" --lang "$lang" "$lm"
fi
"$py" "$here/validate_lang.py" "$lang"
if [ "$kind" = hclg ] && [ -n "$model" ] && [ -f "$model/final.json" ]; then
  # A trained GMM-HMM / hybrid system: mono through kaldi-hmm-gmm's H, tri through our senone H.
  out=${out:-exp/graphs/hclg_$(basename "$lang")_$(basename "$lm")}
  "$py" "$here/make_hclg.py" --lang "$lang" --lm "$lm" --model "$model" --out "$out" $force
  exit 0
fi
args=(--lang "$lang" --lm "$lm" --kind "$kind")
[ -n "$model" ] && args+=(--model "$model")
[ -n "$out" ] && args+=(--out "$out")
"$py" "$here/make_graph.py" "${args[@]}" $force
