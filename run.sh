#!/usr/bin/env bash
# Default recipe: the embedded synthetic-GRID audio-visual corpus, end to end.
# First use installs everything into .venv (tools/install.sh); later runs skip finished stages.
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=100
preset=default       # tiny | default | full: corpus size and training length (conf/presets/<P>.sh)
seed=1234
nj=2
data=data
exp=exp
corpus=synthetic_grid
modality=av          # av | audio (corpora without video)
lexicon=             # word lexicon for the hybrid lang dir (default: the corpus's own)
lm_text=             # LM training text (default: the training transcripts)
grammar=             # grid | none: decode with the GRID sentence grammar (default: grid for GRID-like corpora)
e2e_unit=phone       # phone | bpe: output units of the E2E models
e2e_init_from=       # exp dir whose ctc_att_a / ctc_att_v front-end + encoder start this run's A / V models
extra_seeds=         # training seeds of extra runs of every system (default: the preset's; "none")
sync_policy=         # keep | drop | shift: what stage 4 does with clips whose A/V offset is flagged (default: the preset's)
results=             # leaderboard file (default: RESULTS.md for --exp exp, else <exp>/RESULTS.md)

help_message="Usage: ./run.sh [options]
Options (all optional):
  --stage N          first stage to run (default $stage)
  --stop-stage N     last stage to run (default $stop_stage)
  --preset P         tiny | default | full | small (default $preset; small: a real corpus of a few hundred clips): corpus size (conf/corpus_<P>.yaml) and
                     training length / test conditions (conf/presets/<P>.sh)
  --seed S           random seed for corpus, noise and training (default $seed)
  --nj N             parallel jobs (default $nj)
  --data DIR         data directory (default $data)
  --exp DIR          experiment directory (default $exp)
  --corpus NAME      corpus name (default $corpus = the embedded corpus, made by stage 0); any other
                     name: an egs/<name> recipe has written \$data/local/<name>/{train,dev,test}.jsonl
  --modality M       av | audio (default $modality); audio: no video features, audio systems only
  --lexicon FILE     word lexicon (WORD p1 p2 ...) for the hybrid systems (default: the corpus's own)
  --lm-text FILE     LM training text, one sentence per line (default: training transcripts)
  --grammar G        grid | none: decode with the GRID sentence grammar (default: grid for the
                     embedded corpus, none otherwise; the trigram LM is always built)
  --e2e-unit U       phone | bpe (default $e2e_unit): E2E output units; phone = the non-silence phones of the
                     hybrid's lexicon, words through HLG / LG graphs (closed vocabulary); bpe = sentencepiece
                     pieces (open vocabulary, e.g. LRS3)
  --e2e-init-from DIR  start the CTC+attention A and V models' front-end and encoder from DIR/ctc_att_a and
                     DIR/ctc_att_v (e.g. the embedded corpus's exp: pre-training on it, fine-tuning here)
  --extra-seeds 'N ...'  retrain and re-score every system (stages 8-13) with each extra training seed N, in
                     \$exp/seed_runs/seed<N>, shown as <system>_seed<N>: the leaderboard adds mean ± sd over the
                     seeds and says for how many seeds each claim holds (default: the preset's; full: '2 3';
                     'none': no extra seeds). Each seed costs about as long as stages 8-13 of the main run
  --sync-policy P    keep | drop | shift (default: the preset's, keep): stage 4's action on clips whose estimated
                     audio/video offset exceeds conf/sync.yaml qa.tolerance (keep = report only)
  --results FILE     where the leaderboard goes (default: RESULTS.md, or <exp>/RESULTS.md for another --exp)
Stages:
  0  generate the embedded corpus (espeak-ng TTS audio + rendered lip video)   -> \$data/corpus, \$data/local
  1  lhotse manifests with paired audio + video, speaker-disjoint splits         -> \$data/manifests
  2  noisy test copies: white + babble at 20/10/5/0/-5 dB; multi-condition train -> \$data/manifests, \$data/noise
  3  features: fbank 80 + MFCC 24, mouth ROI crops + DCT, ROI report           -> \$data/fbank, \$data/video
  4  AV sync data QA: per-clip audio/video offset estimate, flagged clips kept/dropped/shifted -> \$data/video/sync_report.json
  5  lang dirs (the corpus lexicon; + CMUdict and grapheme ones for GRID words) and LMs (GRID
     grammar, Kneser-Ney trigram on the training text -> G.fst)                   -> \$data/lang_*, \$data/lm
  6  GMM-HMM: monophone, then triphone (our decision tree); CD-state alignments  -> \$exp/{mono,tri}
  7  HCLG graphs (grammar or trigram; phone bigram for PER) and GMM decoding     -> \$exp/{mono,tri}/graph_*, score_*
  8  hybrid DNNs over the tri alignments: audio, video and the fusion family     -> \$exp/hybrid_<variant>
  9  hybrid scoring: frame PER, WER/PER through HCLG, every test condition       -> \$exp/hybrid_*/score_*
 10  E2E tokens + HLG/LG graphs; CTC+attention for A, V, AV-concat, AV-bilinear    -> \$exp/graphs, \$exp/ctc_att_*
 11  CTC+attention decoding: greedy, attention, joint (tokens), HLG 1-best, n-best -> \$exp/ctc_att_*/decode_*
 12  transducer (stateless predictor) for the same inputs, from the CTC models     -> \$exp/transducer_*
 13  transducer decoding: greedy, modified beam (tokens), LG-constrained beam      -> \$exp/transducer_*/decode_*
 14  leaderboard: WER/PER tables with 95% intervals, AV-vs-A tests, plots          -> RESULTS.md, \$exp/plots"

command_line="${RUN_COMMAND:-./run.sh${*:+ $*}}"   # for RESULTS.md (egs recipes pass their own command line)
. tools/parse_options.sh
. tools/stage_lib.sh

[[ -f conf/presets/$preset.sh ]] || { echo "error: conf/presets/$preset.sh: no such preset (tiny | default | full | small)" >&2; exit 1; }
. "conf/presets/$preset.sh"
ctc_att_train_opts=${ctc_att_train_opts:-}   # presets may add train_e2e.py options for the A and V models
ctc_att_av_train_opts=${ctc_att_av_train_opts:-}   # ... and for the AV models (started from A and V)
transducer_a_train_opts=${transducer_a_train_opts:-}   # presets may add train_e2e.py options for transducer A
transducer_v_epochs=${transducer_v_epochs:-$transducer_epochs}     # transducer V (presets may set another length)
transducer_av_epochs=${transducer_av_epochs:-$transducer_epochs}   # AV transducers (presets may set fewer when they start from A)
transducer_av_from_a=${transducer_av_from_a:-false}   # true: AV transducers also start from transducer A's predictor + joiner
transducer_av_train_opts=${transducer_av_train_opts:-}   # presets may add train_e2e.py options for the AV transducers
[[ -z $e2e_init_from || -d $e2e_init_from/ctc_att_a ]] || { echo "error: --e2e-init-from $e2e_init_from: no ctc_att_a model there" >&2; exit 1; }
[[ -n $sync_policy ]] || sync_policy=${preset_sync_policy:-keep}
[[ -n $extra_seeds ]] || extra_seeds=${preset_extra_seeds:-}
[[ $extra_seeds == none ]] && extra_seeds=
seen_seeds=" "
for s in $extra_seeds; do
  [[ $s =~ ^[1-9][0-9]*$ ]] || { echo "error: --extra-seeds '$extra_seeds': '$s' is not a positive integer" >&2; exit 1; }
  [[ $seen_seeds != *" $s "* ]] || { echo "error: --extra-seeds '$extra_seeds': a seed is given twice" >&2; exit 1; }
  [[ $s != "$seed" ]] || { echo "error: --extra-seeds '$extra_seeds': $seed is the main run's seed (--seed)" >&2; exit 1; }
  seen_seeds+="$s "
done
case $sync_policy in keep|drop|shift) ;; *) echo "error: --sync-policy $sync_policy: expected keep, drop or shift" >&2; exit 1 ;; esac
case $modality in av|audio) ;; *) echo "error: --modality $modality: expected av or audio" >&2; exit 1 ;; esac
case $e2e_unit in phone|bpe) ;; *) echo "error: --e2e-unit $e2e_unit: expected phone or bpe" >&2; exit 1 ;; esac
embedded=false; [[ $corpus == synthetic_grid ]] && embedded=true
if $embedded && [[ ! -f conf/corpus_$preset.yaml ]]; then
  echo "error: conf/corpus_$preset.yaml: preset '$preset' has no embedded-corpus size (tiny | default | full)" >&2; exit 1
fi
[[ -n $grammar ]] || { $embedded && grammar=grid || grammar=none; }
[[ -n $results ]] || { [[ $exp == exp ]] && results=RESULTS.md || results=$exp/RESULTS.md; }

bash tools/install.sh
export PATH="$PWD/.venv/bin:$PATH"
marker_dir=$data/.stages
mkdir -p "$exp/log"
if ! $embedded && [[ $stage -le 3 ]]; then
  for split in train dev test; do
    [[ -f $data/local/$corpus/$split.jsonl ]] || {
      echo "error: $data/local/$corpus/$split.jsonl: missing; corpus '$corpus' is prepared by its egs/ recipe's stage 0" >&2; exit 1; }
  done
fi

# Options that change a stage's outputs form its marker key: changing them re-runs the stage,
# and the steps refuse to mix outputs made with different options in one directory.
# Content hashes of the files a stage reads are "inputs=" tokens (tools/stage_lib.sh): a changed
# file re-runs the stage and every later one; a changed option refuses instead.
if $embedded; then key0="preset=$preset seed=$seed $(inputs_key "conf/corpus_$preset.yaml")"; else key0="corpus=$corpus seed=$seed"; fi
key_train="$key0 preset=$preset modality=$modality"
video_opt=(); [[ $modality == audio ]] && video_opt=(--no-video)

if $embedded; then
  run_stage 0 "generate embedded corpus (preset $preset)" "$key0" \
    python local/make_corpus.py --preset "$preset" --seed "$seed" --nj "$nj" \
      --corpus-dir "$data/corpus" --index-dir "$data/local/$corpus"
fi

vocabulary=$([[ $grammar == grid ]] && echo grid || echo none)   # GRID corpora: words outside the grammar are bad clips
run_stage 1 "lhotse manifests" "$key0 vocabulary=$vocabulary $(inputs_key "$data/local/$corpus/"{train,dev,test}*.jsonl)" \
  python steps/make_manifests.py --index-dir "$data/local/$corpus" --corpus "$corpus" --vocabulary "$vocabulary" \
    --out-dir "$data/manifests" --nj "$nj" --log-file "$exp/log/stage1_manifests.log"

run_stage 2 "noisy test sets and multi-condition train" \
  "$key0 $(inputs_key conf/noise.yaml "$data/manifests/${corpus}_cuts_"{train,dev,test}.jsonl.gz)" \
  python steps/make_noisy_sets.py --manifest-dir "$data/manifests" --corpus "$corpus" \
    --noise-dir "$data/noise" --conf conf/noise.yaml --seed "$seed" --log-file "$exp/log/stage2_noise.log"

run_stage 3 "audio + video features" "$key0 $modality $(inputs_key conf/noise.yaml conf/features.yaml "$data/manifests")" \
  python steps/compute_features.py --manifest-dir "$data/manifests" --corpus "$corpus" \
    --out-dir "$data/fbank" --video-dir "$data/video" --index-dir "$data/local/$corpus" \
    "${video_opt[@]}" --nj "$nj" --log-file "$exp/log/stage3_features.log"

# Data QA: estimate each clip's audio/video offset with a small self-supervised sync model
# (conf/sync.yaml); flagged clips are kept (report only), dropped or shift-corrected (--sync-policy).
if [[ $sync_qa == true ]]; then
  run_stage 4 "AV sync QA (policy $sync_policy)" "$key0 $modality policy=$sync_policy $(inputs_key conf/sync.yaml)" \
    python steps/sync_qa.py --feature-dir "$data/fbank" --video-dir "$data/video" --corpus "$corpus" \
      --policy "$sync_policy" --log-file "$exp/log/stage4_sync_qa.log"
fi

# The hybrid systems' lexicon: the embedded corpus's espeak pronunciations, or the user's.
if [[ -n $lexicon ]]; then lang_name=main
elif $embedded; then lang_name=espeak
else lang_name=main; lexicon=$data/local/$corpus/lexicon.txt
fi
lang=$data/lang_$lang_name
lm_main=$([[ $grammar == grid ]] && echo grid || echo tg)   # the LM every system decodes with
extra_langs=""; [[ $grammar == grid ]] && extra_langs="cmudict grapheme"   # lexicon-swap demos (GRID words)
[[ -n $lm_text ]] || lm_text=$data/lm/train_text.txt

lang_stage() {
  local l
  if [[ $lang_name == espeak ]]; then
    python steps/prepare_lang.py --source espeak --lexicon "$data/local/$corpus/lexicon_espeak.txt" "$lang"
  else
    python steps/prepare_lang.py --source file --lexicon "$lexicon" "$lang"
  fi
  for l in $extra_langs; do python steps/prepare_lang.py --source "$l" "$data/lang_$l"; done
  for l in $lang_name $extra_langs; do python steps/validate_lang.py "$data/lang_$l"; done
}

lm_stage() {
  local l
  python steps/export_text.py "$data/manifests/${corpus}_cuts_train.jsonl.gz" "$data/lm/train_text.txt"
  for l in $lang_name $extra_langs; do
    [[ $grammar == grid ]] && python steps/make_lm.py --kind grid --lang "$data/lang_$l" "$data/lm/grid_$l"
    python steps/make_lm.py --kind ngram --order 3 --text "$lm_text" --lang "$data/lang_$l" "$data/lm/tg_$l"
  done
}
lang_lm_stage() { lang_stage; lm_stage; }
run_stage 5 "lang dirs ($lang_name${extra_langs:+ $extra_langs}) + LMs (${grammar/none/no} grammar, trigram)" \
  "$key0 lexicon=$lexicon grammar=$grammar lm_text=$lm_text $(inputs_key "$lexicon" "$data/local/$corpus/lexicon_espeak.txt" \
    "$data/manifests/${corpus}_cuts_train.jsonl.gz" "$([[ $lm_text != "$data/lm/train_text.txt" ]] && echo "$lm_text")")" \
  lang_lm_stage   # the default LM text is this stage's own output: the training cuts are hashed instead

# Stages 6-14 write under --exp: their markers live there, so several exp dirs can share one data dir.
marker_dir=$exp/.stages

hybrid_variants="audio video concat deep_fusion shallow_fusion bilinear factored shared_factored"
hybrid_scored="$hybrid_variants posterior_average"
if [[ $modality == audio ]]; then hybrid_variants=audio; hybrid_scored=audio; fi
graph=graph_${lm_main}_$lang_name
csv() { echo "$*" | tr -s ' \n' ',' | sed 's/^,//; s/,$//'; }

gmm_stage() {
  python steps/train_gmm.py --kind mono --lang "$lang" --feature-dir "$data/fbank" --corpus "$corpus" \
    --conf conf/gmm.yaml --out "$exp/mono" --log-file "$exp/log/stage6_mono.log"
  python steps/train_gmm.py --kind tri --mono-dir "$exp/mono" --lang "$lang" --feature-dir "$data/fbank" \
    --corpus "$corpus" --conf conf/gmm.yaml --out "$exp/tri" --log-file "$exp/log/stage6_tri.log"
}
run_stage 6 "GMM-HMM mono + tri, alignments" "$key_train $(inputs_key conf/gmm.yaml)" gmm_stage

gmm_decode() {  # $1 = mono | tri
  python steps/make_hclg.py --lang "$lang" --lm "$data/lm/${lm_main}_$lang_name" --model "$exp/$1" \
    --out "$exp/$1/$graph" --phone-out "$exp/$1/graph_phone_bg" --feature-dir "$data/fbank" --corpus "$corpus"
  python steps/decode_gmm.py --model "$exp/$1" --graph "$exp/$1/$graph" --phone-graph "$exp/$1/graph_phone_bg" \
    --lexicon "$lang/lexicon.txt" --feature-dir "$data/fbank" --corpus "$corpus" --sets "$(csv dev $test_sets_all)" \
    --phone-sets "$(csv $test_sets_focus)" --conf conf/gmm.yaml --log-file "$exp/log/stage7_decode_$1.log"
}
gmm_decode_stage() {
  spawn "$exp/log/stage7_decode_mono.out" gmm_decode mono
  spawn "$exp/log/stage7_decode_tri.out" gmm_decode tri
  wait_all
}
run_stage 7 "HCLG graphs + GMM decoding" "$key_train $test_sets_all $(inputs_key conf/gmm.yaml)" gmm_decode_stage

train_hybrid() {  # $1 = variant
  python steps/train_hybrid.py --conf "conf/hybrid_$1.yaml" --ali-dir "$exp/tri" --feature-dir "$data/fbank" \
    --corpus "$corpus" --exp "$exp" --out "$exp/hybrid_$1" --epochs "$hybrid_epochs" --nj 1 \
    ${train_seed:+--seed "$train_seed"} --log-file "$exp/log/stage8_hybrid_$1.log"
}
hybrid_train_stage() {
  local v
  for v in $hybrid_variants; do
    # the fusion variants start from the audio and video nets: those two finish first
    [[ $v == concat ]] && wait_all
    spawn "$exp/log/stage8_hybrid_$v.out" train_hybrid "$v"
  done
  wait_all
}

decode_hybrid() {  # $1 = variant
  python steps/decode_hybrid.py --conf "conf/hybrid_$1.yaml" --model "$exp/hybrid_$1" --exp "$exp" \
    --graph "$exp/tri/$graph" --phone-graph "$exp/tri/graph_phone_bg" --lexicon "$lang/lexicon.txt" \
    --feature-dir "$data/fbank" --corpus "$corpus" --sets "$(csv dev $test_sets_all)" --phone-sets "$(csv $test_sets_focus)" --nj 1 \
    --log-file "$exp/log/stage9_hybrid_$1.log"
}
hybrid_score_stage() {
  local v
  for v in $hybrid_scored; do
    [[ $v == posterior_average ]] && wait_all   # averages the concat and bilinear nets' posteriors
    spawn "$exp/log/stage9_hybrid_$v.out" decode_hybrid "$v"
  done
  wait_all
}

e2e_variants="a:audio v:video av_concat:concat av_bilinear:bilinear"   # <exp suffix>:<fusion>
[[ $modality == audio ]] && e2e_variants="a:audio"
# E2E output units: phones of the hybrid's lang (closed vocabulary, GRID-like corpora: words come
# back through the lexicon graphs HLG / LG, like the hybrid's HCLG) or BPE (open vocabulary).
e2e_lang=$data/lang_e2e_$e2e_unit
e2e_lms=$(echo "$lm_main tg" | tr ' ' '\n' | sort -u | tr '\n' ' ')   # grammar (if any) and trigram
hlg_main=$exp/graphs/hlg_${lm_main}_$e2e_unit lg_main=$exp/graphs/lg_${lm_main}_$e2e_unit
hlg_tg=$exp/graphs/hlg_tg_$e2e_unit lg_tg=$exp/graphs/lg_tg_$e2e_unit

e2e_lang_and_graphs() {  # the token set, its lang dir, LMs and graphs: shared by every E2E model
  local lm kind
  if [[ $e2e_unit == phone ]]; then
    python steps/prepare_e2e_lang.py --unit phone --lang "$lang" "$e2e_lang"
  else
    local grid_words=() bpe_words=()
    [[ $grammar == grid ]] && grid_words=(--grid-words) || bpe_words=(--words-from "$lm_text")
    python steps/train_bpe.py --text "$data/lm/train_text.txt" --conf conf/ctc_attention.yaml \
      --out "$data/lang_bpe/bpe.model" "${grid_words[@]}"
    python steps/prepare_e2e_lang.py --unit bpe --bpe-model "$data/lang_bpe/bpe.model" "${bpe_words[@]}" "$e2e_lang"
  fi
  for lm in $e2e_lms; do
    if [[ $lm == grid ]]; then python steps/make_lm.py --kind grid --lang "$e2e_lang" "$data/lm/grid_e2e_$e2e_unit"
    else python steps/make_lm.py --kind ngram --order 3 --text "$lm_text" --lang "$e2e_lang" "$data/lm/tg_e2e_$e2e_unit"; fi
    for kind in hlg lg; do
      python steps/make_graph.py --kind $kind --lang "$e2e_lang" --lm "$data/lm/${lm}_e2e_$e2e_unit" --model "$e2e_lang" \
        --out "$exp/graphs/${kind}_${lm}_$e2e_unit"
    done
  done
}
train_e2e() {  # $1 = conf name, $2 = exp dir, $3 = fusion, $4 = epochs, then train_e2e.py options
  local conf=$1 dir=$2 fusion=$3 epochs=$4; shift 4
  local units=(--lang "$lang"); [[ $e2e_unit == bpe ]] && units=(--bpe-model "$data/lang_bpe/bpe.model")
  python steps/train_e2e.py --conf "conf/$conf.yaml" --fusion "$fusion" --data "$data" --corpus "$corpus" \
    --train-set train "${units[@]}" --set "tokens.unit=$e2e_unit" --ali "$exp/tri/ali_train.npz" \
    --exp-dir "$dir" --epochs "$epochs" --seed "${train_seed:-$seed}" --init-avg "$e2e_avg" --log-file "$dir/log/train.log" "$@"
}
# CTC+attention: A and V from scratch (in parallel; an auxiliary frame cross-entropy on the tri
# alignments' phones gets them off the CTC plateau, clean data first, then on-the-fly noise and
# SpecAugment: conf/ctc_attention.yaml); the AV models then start from the audio model's audio
# branch, encoder and decoders and the video model's visual branch (auto_avsr does the same).
ctc_att_train_stage() {
  local v
  e2e_lang_and_graphs
  local init_a=() init_v=()
  if [[ -n $e2e_init_from ]]; then
    init_a=(--init-from "$e2e_init_from/ctc_att_a:frontend.audio.,encoder.")
    init_v=(--init-from "$e2e_init_from/ctc_att_v:frontend.video.,encoder.")
  fi
  # shellcheck disable=SC2086  # the preset's extra options split into words
  spawn "$exp/log/ctc_att_a.train.out" train_e2e ctc_attention "$exp/ctc_att_a" audio "$ctc_att_epochs" --dev-hlg "$hlg_main" \
    $ctc_att_train_opts "${init_a[@]}"
  [[ $modality == audio ]] && { wait_all; return 0; }
  # shellcheck disable=SC2086
  spawn "$exp/log/ctc_att_v.train.out" train_e2e ctc_attention "$exp/ctc_att_v" video "$ctc_att_v_epochs" --dev-hlg "$hlg_main" \
    $ctc_att_train_opts "${init_v[@]}"
  wait_all
  for v in concat bilinear; do
    # shellcheck disable=SC2086
    spawn "$exp/log/ctc_att_av_$v.train.out" train_e2e ctc_attention "$exp/ctc_att_av_$v" "$v" "$ctc_att_av_epochs" \
      --dev-hlg "$hlg_main" --set train.aux_weight=0 --set train.noise.from_epoch=1 --init-from "$exp/ctc_att_a:frontend.audio.,encoder.,ctc_head.,decoder." \
      --init-from "$exp/ctc_att_v:frontend.video." --init-fusion-from "$exp/ctc_att_a" $ctc_att_av_train_opts
  done
  wait_all
}
# Transducers start from the CTC+attention model of the same input (front-end, encoder, CTC head);
# the prediction network and joiner are new, or (transducer_av_from_a=true) an AV transducer's
# are transducer A's: then A and V train first, the AV models after them.
transducer_train_stage() {
  local v name extra epochs waited=false
  for v in $e2e_variants; do
    name=${v%%:*} extra=() epochs=$transducer_epochs
    if [[ $name == v ]]; then epochs=$transducer_v_epochs; fi
    # shellcheck disable=SC2206  # the preset's extra options split into words
    if [[ $name == a ]]; then extra=($transducer_a_train_opts); fi
    if [[ $name == av_* ]]; then
      epochs=$transducer_av_epochs
      if [[ $transducer_av_from_a == true ]]; then
        $waited || { wait_all; waited=true; }   # transducer A must be trained first
        extra=(--init-from "$exp/transducer_a:predictor.,joiner.")
      fi
      # shellcheck disable=SC2206  # the preset's extra options split into words
      extra+=($transducer_av_train_opts)
    fi
    spawn "$exp/log/transducer_$name.train.out" train_e2e transducer "$exp/transducer_$name" "${v#*:}" \
      "$epochs" --dev-lg "$lg_main" --set train.aux_weight=0 --set train.noise.from_epoch=1 \
      --init-from "$exp/ctc_att_$name:frontend.,encoder.,ctc_head." "${extra[@]}"
  done
  wait_all
}

# One decoding process per model: every method on the focus sets, the main graph method on dev and
# every other condition (the leaderboard's SNR curves), AV models also with a stream missing.
decode_e2e() {  # $1 = exp dir, $2 = main method spec, then decode_e2e.py options
  local dir=$1 main=$2 extra drops=(); shift 2
  # dev too (main method): the leaderboard's claims choose the systems they compare on dev
  extra=$(echo dev; for s in $test_sets_all; do [[ " $test_sets_focus " == *" $s "* ]] || echo "$s"; done)
  # shellcheck disable=SC2086  # set lists split into words
  [[ $dir == *_av_* ]] && drops=(--drop-video-sets $test_sets_focus --drop-audio-sets test --drop-methods "$main")
  # shellcheck disable=SC2086
  python steps/decode_e2e.py --exp-dir "$dir" --data "$data" --corpus "$corpus" --avg "$e2e_avg" --num-threads 1 \
    --ali-dir "$exp/tri" \
    --sets $test_sets_focus ${extra:+--extra-sets $extra --extra-methods "$main"} "${drops[@]}" \
    --log-file "$dir/log/decode.log" "$@"
}
ctc_att_decode_stage() {
  local v nbest=()
  # n-best rescoring only over the grammar: a trigram lattice's n-best determinisation blows up
  # (kaldifst has no lattice pruning)
  [[ $grammar == grid ]] && nbest=("hlg_nbest_attention=$hlg_main")
  for v in $e2e_variants; do
    # shellcheck disable=SC2086  # the preset's method list splits into words
    spawn "$exp/log/ctc_att_${v%%:*}.decode.out" decode_e2e "$exp/ctc_att_${v%%:*}" "hlg_1best=$hlg_main" --beam 4 \
      --methods $ctc_att_token_methods "hlg_1best=$hlg_main" "${nbest[@]}" \
      $([[ $lm_main != tg ]] && echo "hlg_1best=$hlg_tg")
  done
  wait_all
}


transducer_decode_stage() {
  local v
  for v in $e2e_variants; do
    # shellcheck disable=SC2086
    spawn "$exp/log/transducer_${v%%:*}.decode.out" decode_e2e "$exp/transducer_${v%%:*}" "fst_beam=$lg_main" \
      --methods $transducer_token_methods "fst_beam=$lg_main" $([[ $lm_main != tg ]] && echo "fst_beam=$lg_tg")
  done
  wait_all
}

# Stages 8-13 train and score every system under $exp. With --extra-seeds, they run again for each
# extra training seed N in $exp/seed_runs/seed<N> (sharing the data, the GMM alignments and the
# graphs of the main run; every model retrained, the AV and transducer models from that seed's own
# A / V / CTC models), and each system appears as $exp/<system>_seed<N> for the leaderboard.
system_stages() {  # key_sys = the stages' option key
  run_stage 8 "hybrid DNNs (A, V, fusion family)" "$key_sys $hybrid_epochs $(inputs_key conf/hybrid_*.yaml)" hybrid_train_stage
  run_stage 9 "hybrid scoring: frame PER, WER, PER" "$key_sys $hybrid_epochs $test_sets_all $(inputs_key conf/hybrid_*.yaml)" hybrid_score_stage
  run_stage 10 "CTC+attention training ($e2e_unit units)" \
    "$key_sys e2e_unit=$e2e_unit $ctc_att_epochs $ctc_att_v_epochs $ctc_att_av_epochs $ctc_att_train_opts $ctc_att_av_train_opts init=$e2e_init_from $(inputs_key conf/ctc_attention.yaml)" \
    ctc_att_train_stage
  run_stage 11 "CTC+attention decoding" "$key_sys e2e_unit=$e2e_unit $ctc_att_epochs $ctc_att_v_epochs $ctc_att_av_epochs $e2e_avg $ctc_att_token_methods $(inputs_key conf/ctc_attention.yaml) dev $test_sets_all" \
    ctc_att_decode_stage
  run_stage 12 "transducer training" "$key_sys e2e_unit=$e2e_unit $transducer_epochs $transducer_v_epochs $transducer_av_epochs av_from_a=$transducer_av_from_a $transducer_a_train_opts $transducer_av_train_opts $(inputs_key conf/transducer.yaml)" \
    transducer_train_stage
  run_stage 13 "transducer decoding" "$key_sys e2e_unit=$e2e_unit $transducer_epochs $transducer_v_epochs $transducer_av_epochs $e2e_avg $transducer_token_methods $(inputs_key conf/transducer.yaml) dev $test_sets_all" \
    transducer_decode_stage
}
key_sys=$key_train train_seed=
system_stages
main_exp=$exp
for train_seed in $extra_seeds; do
  exp=$main_exp/seed_runs/seed$train_seed marker_dir=$main_exp/seed_runs/seed$train_seed/.stages
  mkdir -p "$exp/log"
  for d in mono tri graphs; do ln -sfn "../../$d" "$exp/$d"; done
  # a re-run of the main run's GMM stages (new alignments) re-runs the seed runs too
  key_sys="$key_train train_seed=$train_seed $(inputs_key "$main_exp/.stages/stage6.done" "$main_exp/.stages/stage7.done")"
  log "extra training seed $train_seed: stages 8-13 in $exp"
  system_stages
  for d in "$exp"/hybrid_* "$exp"/ctc_att_* "$exp"/transducer_*; do
    if [[ -d $d ]]; then ln -sfn "seed_runs/seed$train_seed/${d##*/}" "$main_exp/${d##*/}_seed$train_seed"; fi
  done
done
exp=$main_exp marker_dir=$main_exp/.stages train_seed=

leaderboard_stage() {
  python steps/leaderboard.py --exp "$exp" --out "$results" --plots-dir "$exp/plots" --lexicon "$lang/lexicon.txt" \
    --command "$command_line" --preset "$preset" --seed "$seed" \
    --sync-report "$data/video/sync_report.json" \
    --ctc-att-method "hlg_1best_hlg_${lm_main}_$e2e_unit" --transducer-method "fst_beam_lg_${lm_main}_$e2e_unit"   # scored in every condition
}
# Always re-run: it only reads the score files, and they may have changed.
rm -f "$marker_dir/stage14.done"
run_stage 14 "leaderboard" "$key_train" leaderboard_stage

print_stage_summary
