#!/usr/bin/env bash
# Your own corpus, as lhotse manifests: <corpus>_{recordings,supervisions}_{train,test[,dev]}.jsonl.gz
# (the names lhotse recipes write), a word lexicon and an LM text. Stage 0 is this recipe's own
# (16 kHz wavs + the UttRecord index); stages 1+ are the top-level run.sh.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)

stage=0
stop_stage=100
manifests=
lexicon=
lm_text=
modality=audio
corpus_prefix=
dev_fraction=0.1
seed=1234
nj=2
data=data
exp=exp
corpus=custom

help_message="Usage: egs/custom/run.sh --manifests DIR --lexicon FILE [--lm-text FILE] [options]
Options:
  --manifests DIR        lhotse manifests <corpus>_{recordings,supervisions}_<split>.jsonl.gz; train + test, dev optional
  --lexicon FILE         word lexicon 'WORD p1 p2 ...' covering every transcript word (any case)
  --lm-text FILE         LM training text (default: the training transcripts)
  --modality M           audio | video | av (default $modality); video/av need a video file per recording
  --corpus-prefix P      the <corpus> part of the manifest names (default: the only one present)
  --dev-fraction F       share of train carved out as dev when there is no dev split (default $dev_fraction)
  --stage N, --stop-stage N   stages to run (default $stage..$stop_stage)
  --seed S               dev carving, noise and training seed (default $seed)
  --nj N                 parallel jobs (default $nj)
  --data DIR, --exp DIR  output dirs (default $data, $exp; relative to egs/custom)
Stages:
  0  16 kHz wavs, index, normalised lexicon.txt + lm_text.txt -> \$data/wav, \$data/local/custom
  1+ the top-level ./run.sh --corpus custom --grammar none --lexicon ... --lm-text ... --modality audio|av"

run_command="egs/custom/run.sh $*"   # recorded in RESULTS.md
. "$root/tools/parse_options.sh"
. "$root/tools/stage_lib.sh"

if [[ $stage -le 0 && ( -z $manifests || -z $lexicon ) ]]; then
  echo "error: --manifests and --lexicon are required (see --help)" >&2
  exit 1
fi
case $modality in audio) top_modality=audio ;; video|av) top_modality=av ;;
  *) echo "error: --modality $modality: expected audio, video or av" >&2; exit 1 ;; esac
bash "$root/tools/install.sh"
export PATH="$root/.venv/bin:$PATH"
mkdir -p "$data" "$exp/log"
data=$(cd "$data" && pwd); exp=$(cd "$exp" && pwd)   # the top-level run.sh runs from the repo root
marker_dir=$data/.stages
abs() { [[ -z $1 ]] || echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
manifests=$(abs "$manifests"); lexicon=$(abs "$lexicon"); lm_text=$(abs "$lm_text")
inputs_sum=$( { cat "$lexicon" ${lm_text:+"$lm_text"} 2>/dev/null || true; } | cksum)   # a missing file: stage 0 says so
key="manifests=$manifests lexicon=$lexicon lm_text=$lm_text modality=$modality dev=$dev_fraction seed=$seed $inputs_sum"

run_stage 0 "prepare custom corpus from $manifests" "$key" \
  python local/prepare_custom.py --manifests "$manifests" --lexicon "$lexicon" ${lm_text:+--lm-text "$lm_text"} \
    --modality "$modality" ${corpus_prefix:+--corpus-prefix "$corpus_prefix"} --dev-fraction "$dev_fraction" \
    --seed "$seed" --nj "$nj" --out-audio-dir "$data/wav" --index-dir "$data/local/$corpus" \
    --log-file "$exp/log/stage0_prepare.log"
print_stage_summary

if [[ $stop_stage -ge 1 ]]; then
  RUN_COMMAND="$run_command" "$root/run.sh" --corpus "$corpus" --data "$data" --exp "$exp" \
    --stage $((stage > 1 ? stage : 1)) --stop-stage "$stop_stage" --modality "$top_modality" --grammar none \
    --lexicon "$data/local/$corpus/lexicon.txt" --lm-text "$data/local/$corpus/lm_text.txt" --nj "$nj" --seed "$seed"
fi
