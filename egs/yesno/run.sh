#!/usr/bin/env bash
# yes/no recipe in the Kaldi/icefall tradition, audio only: a folder of wavs named by their
# transcript (0_1_0_0_1_0_1_1.wav with --word-map 0=no,1=yes, or yes_no_yes.wav), any sample rate.
# Without --wav-dir, stage 0 first generates a tiny espeak-ng corpus like the original
# (60 clips x 8 words, 8 kHz). Stage 0 is this recipe's own; stages 1+ are the top-level run.sh.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)

stage=0
stop_stage=100
wav_dir=
word_map=
lexicon_source=espeak
test_fraction=0.5
dev_fraction=0.1
seed=1234
nj=2
data=data
exp=exp
corpus=yesno

help_message="Usage: egs/yesno/run.sh [--wav-dir DIR] [options]
Options:
  --wav-dir DIR          folder of transcript-named wavs (read only; default: generate the espeak yes/no corpus)
  --word-map MAP         file-name token -> word, e.g. 0=no,1=yes (default: none; 0=no,1=yes for the generated corpus)
  --lexicon-source S     espeak | grapheme (default $lexicon_source)
  --test-fraction F      share of clips for test (default $test_fraction)
  --dev-fraction F       share of the rest for dev (default $dev_fraction)
  --stage N, --stop-stage N   stages to run (default $stage..$stop_stage)
  --seed S               split, noise and training seed (default $seed)
  --nj N                 parallel jobs (default $nj)
  --data DIR, --exp DIR  output dirs (default $data, $exp; relative to egs/yesno)
Stages:
  0  [generate the yes/no corpus ->\$data/yesno_wavs], 16 kHz wavs + index + lexicon.txt + lm_text.txt -> \$data/wav, \$data/local/yesno
  1+ the top-level ./run.sh --corpus yesno --modality audio --grammar none (manifests, noise, fbank + MFCC, lang, LM, GMM, audio systems)"

run_command="egs/yesno/run.sh $*"   # recorded in RESULTS.md
. "$root/tools/parse_options.sh"
. "$root/tools/stage_lib.sh"

bash "$root/tools/install.sh"
export PATH="$root/.venv/bin:$PATH"
mkdir -p "$data" "$exp/log"
data=$(cd "$data" && pwd); exp=$(cd "$exp" && pwd)   # the top-level run.sh runs from the repo root
marker_dir=$data/.stages
if [[ -z $wav_dir ]]; then
  wav_dir=$data/yesno_wavs
  generate=true
  [[ -n $word_map ]] || word_map=0=no,1=yes
else
  generate=false
fi
key="wav_dir=$wav_dir word_map=$word_map lexicon=$lexicon_source test=$test_fraction dev=$dev_fraction seed=$seed"

prepare_stage() {
  if $generate && [[ ! -f $wav_dir/fixture.json ]]; then
    python -m avsr.corpora.yesno.fixture "$wav_dir" --seed "$seed"
  fi
  python local/prepare_folder.py --wav-dir "$wav_dir" --word-map "$word_map" --lexicon-source "$lexicon_source" \
    --test-fraction "$test_fraction" --dev-fraction "$dev_fraction" --seed "$seed" \
    --out-audio-dir "$data/wav" --index-dir "$data/local/$corpus" --log-file "$exp/log/stage0_prepare.log"
}
run_stage 0 "prepare yes/no wavs from $wav_dir" "$key" prepare_stage
print_stage_summary

if [[ $stop_stage -ge 1 ]]; then
  RUN_COMMAND="$run_command" "$root/run.sh" --corpus "$corpus" --data "$data" --exp "$exp" \
    --stage $((stage > 1 ? stage : 1)) --stop-stage "$stop_stage" --modality audio --grammar none \
    --lexicon "$data/local/$corpus/lexicon.txt" --lm-text "$data/local/$corpus/lm_text.txt" --nj "$nj" --seed "$seed"
fi
