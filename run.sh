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
  5  LMs: GRID grammar and a Kneser-Ney trigram on the training text -> G.fst  -> \$data/lm/{grid,tg}_<lang>
  6  GMM-HMM: monophone, then triphone (our decision tree); CD-state alignments  -> \$exp/{mono,tri}
  7  HCLG graphs (GRID grammar; phone bigram for PER) and GMM decoding          -> \$exp/{mono,tri}/graph_*, score_*
  8  hybrid DNNs over the tri alignments: audio, video and the fusion family     -> \$exp/hybrid_<variant>
  9  hybrid scoring: frame PER, WER/PER through HCLG, clean and babble           -> \$exp/hybrid_*/score_*, \$exp/hybrid_report.md
 10  CTC+attention (BPE) for A, V, AV-concat, AV-bilinear on multi-condition train -> \$exp/ctc_att_*
 11  CTC+attention decoding: greedy, prefix beam, attention, joint, HLG, n-best    -> \$exp/ctc_att_*/decode_*
 12  transducer (stateless predictor) for the same inputs                          -> \$exp/transducer_*
 13  transducer decoding: greedy, beam, modified beam                              -> \$exp/transducer_*/decode_*"

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

lang=$data/lang_espeak
hybrid_variants="audio video concat deep_fusion shallow_fusion bilinear factored shared_factored"

gmm_stage() {
  python steps/train_gmm.py --kind mono --lang "$lang" --feature-dir "$data/fbank" --conf conf/gmm.yaml \
    --out "$exp/mono" --log-file "$exp/log/stage6_mono.log"
  python steps/train_gmm.py --kind tri --mono-dir "$exp/mono" --lang "$lang" --feature-dir "$data/fbank" \
    --conf conf/gmm.yaml --out "$exp/tri" --log-file "$exp/log/stage6_tri.log"
}
run_stage 6 "GMM-HMM mono + tri, alignments" "$key0 $(cksum < conf/gmm.yaml)" gmm_stage

gmm_decode_stage() {
  local m
  for m in mono tri; do
    python steps/make_hclg.py --lang "$lang" --lm "$data/lm/grid_espeak" --model "$exp/$m" \
      --out "$exp/$m/graph_grid_espeak" --phone-out "$exp/$m/graph_phone_bg" --feature-dir "$data/fbank"
    python steps/decode_gmm.py --model "$exp/$m" --graph "$exp/$m/graph_grid_espeak" \
      --phone-graph "$exp/$m/graph_phone_bg" --lexicon "$lang/lexicon.txt" --feature-dir "$data/fbank" \
      --conf conf/gmm.yaml --log-file "$exp/log/stage7_decode_$m.log"
  done
}
run_stage 7 "HCLG graphs + GMM decoding" "$key0 $(cksum < conf/gmm.yaml)" gmm_decode_stage

hybrid_train_stage() {
  local v
  for v in $hybrid_variants; do   # audio and video first: the fusion variants start from them
    python steps/train_hybrid.py --conf "conf/hybrid_$v.yaml" --ali-dir "$exp/tri" --feature-dir "$data/fbank" \
      --exp "$exp" --out "$exp/hybrid_$v" --nj 1 --log-file "$exp/log/stage8_hybrid_$v.log"
  done
}
run_stage 8 "hybrid DNNs (A, V, fusion family)" "$key0 $(cat conf/hybrid_*.yaml | cksum)" hybrid_train_stage

hybrid_score_stage() {
  local v
  for v in $hybrid_variants posterior_average; do
    python steps/decode_hybrid.py --conf "conf/hybrid_$v.yaml" --model "$exp/hybrid_$v" --exp "$exp" \
      --graph "$exp/tri/graph_grid_espeak" --phone-graph "$exp/tri/graph_phone_bg" --lexicon "$lang/lexicon.txt" \
      --feature-dir "$data/fbank" --nj 1 --log-file "$exp/log/stage9_hybrid_$v.log"
  done
  python steps/hybrid_report.py --exp "$exp" --split test --out "$exp/hybrid_report.md"
}
run_stage 9 "hybrid scoring: frame PER, WER, PER" "$key0 $(cat conf/hybrid_*.yaml | cksum)" hybrid_score_stage

e2e_variants="a:audio v:video av_concat:concat av_bilinear:bilinear"   # <exp suffix>:<fusion>
e2e_test_sets="test test_babble_snr0 test_babble_snr-5"

train_e2e_family() {  # $1 = conf name (ctc_attention | transducer), $2 = exp prefix
  local v
  for v in $e2e_variants; do
    python steps/train_e2e.py --conf "conf/$1.yaml" --fusion "${v#*:}" --data "$data" \
      --train-set train_multi --bpe-model "$data/lang_bpe/bpe.model" --exp-dir "$exp/$2_${v%%:*}" \
      --log-file "$exp/$2_${v%%:*}/log/train.log"
  done
}
run_stage 10 "CTC+attention training" "$key0 $(cksum < conf/ctc_attention.yaml)" train_e2e_family ctc_attention ctc_att

ctc_att_decode_stage() {
  local lm s first=${e2e_variants%% *}
  first=${first%%:*}
  python steps/prepare_lang.py --source bpe --lexicon "$data/lang_bpe/bpe.model" --sil-phone "" \
    --unk-phone "<unk>" --phone-table "$exp/ctc_att_$first/tokens.txt" "$data/lang_bpe_units"
  python steps/make_lm.py --kind grid --lang "$data/lang_bpe_units" "$data/lm/grid_bpe"
  python steps/make_lm.py --kind ngram --order 3 --text "$data/lm/train_text.txt" --lang "$data/lang_bpe_units" "$data/lm/tg_bpe"
  for lm in grid_bpe tg_bpe; do
    python steps/make_graph.py --lang "$data/lang_bpe_units" --lm "$data/lm/$lm" --kind hlg \
      --model "$exp/ctc_att_$first" --out "$exp/graphs/hlg_$lm"
  done
  for s in $e2e_variants; do
    s=${s%%:*}
    # shellcheck disable=SC2086
    python steps/decode_e2e.py --exp-dir "$exp/ctc_att_$s" --data "$data" --avg 3 --beam 4 --sets $e2e_test_sets \
      --methods ctc_greedy ctc_prefix_beam attention_beam joint_ctc_attention
    # shellcheck disable=SC2086
    python steps/decode_e2e.py --exp-dir "$exp/ctc_att_$s" --data "$data" --avg 3 --sets $e2e_test_sets \
      --methods hlg_1best hlg_nbest_attention --hlg-dir "$exp/graphs/hlg_grid_bpe"
    # shellcheck disable=SC2086
    python steps/decode_e2e.py --exp-dir "$exp/ctc_att_$s" --data "$data" --avg 3 --sets $e2e_test_sets \
      --methods hlg_1best --hlg-dir "$exp/graphs/hlg_tg_bpe"
  done
}
run_stage 11 "CTC+attention decoding" "$key0 $(cksum < conf/ctc_attention.yaml)" ctc_att_decode_stage

run_stage 12 "transducer training" "$key0 $(cksum < conf/transducer.yaml)" train_e2e_family transducer transducer

transducer_decode_stage() {
  local s
  for s in $e2e_variants; do
    # shellcheck disable=SC2086
    python steps/decode_e2e.py --exp-dir "$exp/transducer_${s%%:*}" --data "$data" --avg 3 --sets $e2e_test_sets \
      --methods greedy beam modified_beam
  done
}
run_stage 13 "transducer decoding" "$key0 $(cksum < conf/transducer.yaml)" transducer_decode_stage

print_stage_summary
