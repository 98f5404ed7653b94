#!/usr/bin/env bash
# Default recipe: the embedded synthetic-GRID audio-visual corpus, end to end.
# First use installs everything into .venv (tools/install.sh); later runs skip finished stages.
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=100
preset=default       # embedded corpus size: tiny | default
seed=1234
nj=2
data=data
exp=exp
corpus=synthetic_grid

help_message="Usage: ./run.sh [options]
Options (all optional):
  --stage N          first stage to run (default $stage)
  --stop-stage N     last stage to run (default $stop_stage)
  --preset P         embedded corpus preset: tiny | default (default $preset; conf/corpus_<P>.yaml)
  --seed S           random seed for corpus, noise and training (default $seed)
  --nj N             parallel jobs (default $nj)
  --data DIR         data directory (default $data)
  --exp DIR          experiment directory (default $exp)
Stages:
  0  generate the embedded corpus (espeak-ng TTS audio + rendered lip video)   -> \$data/corpus, \$data/local
  1  lhotse manifests with paired audio + video, speaker-disjoint splits         -> \$data/manifests
  2  noisy dev/test copies: white + babble at 20/10/5/0/-5 dB; multi-condition train -> \$data/manifests, \$data/noise
  3  features: fbank 80 + MFCC 24, mouth ROI crops + DCT, ROI report           -> \$data/fbank, \$data/video
  4  lang dirs: espeak, CMUdict and grapheme lexicons -> L.fst, L_disambig.fst  -> \$data/lang_{espeak,cmudict,grapheme}
  5  LMs: GRID grammar and a Kneser-Ney trigram on the training text -> G.fst  -> \$data/lm/{grid,tg}"

. tools/parse_options.sh
. tools/stage_lib.sh

bash tools/install.sh
export PATH="$PWD/.venv/bin:$PATH"
marker_dir=$data/.stages
mkdir -p "$exp/log"

# Options that change a stage's outputs form its marker key: changing them re-runs the stage,
# and the steps refuse to mix outputs made with different options in one directory.
key0="preset=$preset seed=$seed"

run_stage 0 "generate embedded corpus (preset $preset)" "$key0" \
  python local/make_corpus.py --preset "$preset" --seed "$seed" --nj "$nj" \
    --corpus-dir "$data/corpus" --index-dir "$data/local/$corpus"

run_stage 1 "lhotse manifests" "$key0" \
  python steps/make_manifests.py --index-dir "$data/local/$corpus" --corpus "$corpus" \
    --out-dir "$data/manifests" --nj "$nj" --log-file "$exp/log/stage1_manifests.log"

run_stage 2 "noisy test sets and multi-condition train" "$key0 $(cksum < conf/noise.yaml)" \
  python steps/make_noisy_sets.py --manifest-dir "$data/manifests" --corpus "$corpus" \
    --noise-dir "$data/noise" --conf conf/noise.yaml --seed "$seed" --log-file "$exp/log/stage2_noise.log"

run_stage 3 "audio + video features" "$key0 $(cat conf/noise.yaml conf/features.yaml | cksum)" \
  python steps/compute_features.py --manifest-dir "$data/manifests" --corpus "$corpus" \
    --out-dir "$data/fbank" --video-dir "$data/video" --index-dir "$data/local/$corpus" \
    --nj "$nj" --log-file "$exp/log/stage3_features.log"

lang_stage() {
  python steps/prepare_lang.py --source espeak --lexicon "$data/local/$corpus/lexicon_espeak.txt" "$data/lang_espeak"
  python steps/prepare_lang.py --source cmudict "$data/lang_cmudict"
  python steps/prepare_lang.py --source grapheme "$data/lang_grapheme"
  for lang in espeak cmudict grapheme; do python steps/validate_lang.py "$data/lang_$lang"; done
}
run_stage 4 "lang dirs (espeak, cmudict, grapheme lexicons)" "$key0" lang_stage

lm_stage() {
  python steps/export_text.py "$data/manifests/${corpus}_cuts_train.jsonl.gz" "$data/lm/train_text.txt"
  for lang in espeak cmudict grapheme; do
    python steps/make_lm.py --kind grid --lang "$data/lang_$lang" "$data/lm/grid_$lang"
    python steps/make_lm.py --kind ngram --order 3 --text "$data/lm/train_text.txt" --lang "$data/lang_$lang" "$data/lm/tg_$lang"
  done
}
run_stage 5 "language models (GRID grammar, trigram)" "$key0" lm_stage

print_stage_summary
