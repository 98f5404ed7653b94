#!/usr/bin/env bash
# GRID corpus recipe (Cooke et al. 2006). Only GRID's own preparation lives here (stage -1
# download, stage 0 index + lexicon, in local/); stages 1-14 are the top-level ./run.sh,
# called with --corpus grid (see docs/recipes.md). The corpus is only read.
set -euo pipefail
invocation_dir=$PWD
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)

stage=0
stop_stage=100
corpus_dir=
grid_root=           # old name of --corpus-dir, still accepted
download=false
download_speakers=all
split=unseen
dev_speakers="s3 s4"
test_speakers="s1 s2 s20 s22"
test_per_speaker=    # overlapped: empty = derived from each speaker's clip count (255/25 of 1000, 75/25 of 400)
dev_per_speaker=
modality=av
preset=              # default: small for --split overlapped (a few hundred clips per speaker), else default
extra_seeds=         # training seeds of extra runs of every system (top-level run.sh --extra-seeds)
e2e_init_from=       # exp dir of a trained run whose ctc_att_a / ctc_att_v start the E2E models (pre-training)
seed=1234
nj=2
data=data
exp=exp
corpus=grid
pipeline=$root/run.sh
results=             # default: egs/grid/RESULTS.md for the default --exp, else <exp>/RESULTS.md
run_command="egs/grid/run.sh${*:+ $*}"   # for the leaderboard's header

help_message="Usage: egs/grid/run.sh --corpus-dir /path/to/GRID [options]
Options:
  --corpus-dir DIR      GRID corpus: <spk>/<utt>.mpg + alignments/<spk>/<utt>.align (read only; --grid-root is an alias)
  --download true       first fetch what is missing from the official site into --corpus-dir (stage -1)
  --download-speakers S speakers to fetch: 'all' (default) or e.g. '1-4 20 22'
  --split P             unseen (default: test s1 s2 s20 s22, dev s3 s4) | overlapped (255 random test
                        sentences per speaker, LipNet; --dev-per-speaker more as dev)
  --dev-speakers 'S..'  unseen: dev speakers (default '$dev_speakers')
  --test-speakers 'S..' unseen: test speakers (default '$test_speakers')
  --test-per-speaker N  overlapped: test sentences per speaker (default: LipNet's 255 of a full
                        1000-sentence speaker, 3/16 of a smaller folder: 75 of 400)
  --dev-per-speaker N   overlapped: dev sentences per speaker (default: 25, or 1/16 of a smaller folder)
  --modality M          av (default) | audio: passed to the pipeline
  --stage N --stop-stage N  stages to run (default $stage..$stop_stage; -1 = download)
  --seed S              split draw, noise and training seed (default $seed)
  --nj N                parallel jobs (default $nj)
  --preset P            the pipeline's preset (default: small for --split overlapped, else default)
  --e2e-init-from DIR   start the E2E A and V models' front-end + encoder from DIR/ctc_att_{a,v} (e.g. the
                        embedded run's exp: embedded pre-training, real fine-tuning)
  --extra-seeds 'N ..'  retrain and re-score every system with each extra training seed (the pipeline's
                        --extra-seeds: the leaderboard adds mean ± sd over seeds, per-claim seed counts)
  --data DIR, --exp DIR output dirs (default $data, $exp; relative to egs/grid)
  --results FILE        the leaderboard (default: egs/grid/RESULTS.md with the default --exp, else <exp>/RESULTS.md)
  --pipeline FILE       the pipeline stages 1+ are delegated to (default: the top-level run.sh)
Stages:
 -1  download missing GRID archives (only with --download true or --stage -1)   -> --corpus-dir
  0  index GRID, transcripts from .align, audio track -> 16 kHz wav, the split,
     CMUdict lexicon of the 51 words      -> \$data/wav, \$data/local/grid/{train,dev,test}.jsonl, split.json, lexicon.txt
  1+ the top-level pipeline: manifests, noise, features, lang, LM, GMM, hybrid, E2E, leaderboard"

. "$root/tools/parse_options.sh"
. "$root/tools/stage_lib.sh"

if [[ -n "$grid_root" ]]; then
  if [[ -n "$corpus_dir" && "$corpus_dir" != "$grid_root" ]]; then
    echo "error: --grid-root ($grid_root) and --corpus-dir ($corpus_dir) disagree: give one" >&2
    exit 1
  fi
  corpus_dir=$grid_root
fi
if [[ -z "$corpus_dir" ]]; then
  echo "error: --corpus-dir is required (the unpacked GRID corpus, or where --download true puts it)" >&2
  exit 1
fi
[[ "$corpus_dir" = /* ]] || corpus_dir=$invocation_dir/$corpus_dir   # relative to where the user ran us
[[ $download == true && $stage -gt -1 ]] && stage=-1
[[ -n $preset ]] || { [[ $split == overlapped ]] && preset=small || preset=default; }
[[ -z $e2e_init_from || $e2e_init_from = /* ]] || e2e_init_from=$invocation_dir/$e2e_init_from
case $split in unseen|overlapped) ;; *) echo "error: --split must be unseen or overlapped, not '$split'" >&2; exit 1 ;; esac
case $modality in av|audio) ;; *) echo "error: --modality must be av or audio, not '$modality'" >&2; exit 1 ;; esac

bash "$root/tools/install.sh"
export PATH="$root/.venv/bin:$PATH"
mkdir -p "$data" "$exp/log"
data_abs=$(cd "$data" && pwd)
exp_abs=$(cd "$exp" && pwd)
[[ -n $results ]] || { [[ $exp == exp ]] && results=$PWD/RESULTS.md || results=$exp_abs/RESULTS.md; }
[[ "$results" = /* ]] || results=$invocation_dir/$results
marker_dir=$data/.stages
index_dir=$data/local/$corpus

if stage_selected -1; then   # no marker: the check of what is present is cheap, and always right
  log "Stage -1: download missing GRID archives into $corpus_dir"
  python local/download_grid.py --corpus-dir "$corpus_dir" --speakers "$download_speakers" \
    --log-file "$exp/log/stage-1_download.log"
fi

if [[ $split == unseen ]]; then
  split_key="split=unseen dev=$dev_speakers test=$test_speakers"
else
  split_key="split=overlapped seed=$seed test_per_speaker=${test_per_speaker:-auto} dev_per_speaker=${dev_per_speaker:-auto}"
fi
sizes=()
[[ -n $test_per_speaker ]] && sizes+=(--test-per-speaker "$test_per_speaker")
[[ -n $dev_per_speaker ]] && sizes+=(--dev-per-speaker "$dev_per_speaker")
prepare_stage() {
  # shellcheck disable=SC2086  # speaker lists are meant to split into words
  python local/prepare_grid.py --corpus-dir "$corpus_dir" --out-audio-dir "$data/wav" --index-dir "$index_dir" \
    --split "$split" --seed "$seed" --dev-speakers $dev_speakers --test-speakers $test_speakers \
    "${sizes[@]}" \
    --nj "$nj" --log-file "$exp/log/stage0_prepare.log"
  python local/make_lexicon.py "$index_dir/lexicon.txt"
}
run_stage 0 "prepare GRID from $corpus_dir ($split split) + CMUdict lexicon" "corpus_dir=$corpus_dir $split_key" prepare_stage
print_stage_summary

if [[ $stop_stage -ge 1 ]]; then
  first=$(( stage > 1 ? stage : 1 ))
  log "Stages $first-$stop_stage: the top-level pipeline ($pipeline) on --corpus $corpus"
  RUN_COMMAND="$run_command" "$pipeline" --corpus "$corpus" --data "$data_abs" --exp "$exp_abs" --stage "$first" \
    --stop-stage "$stop_stage" --modality "$modality" --lexicon "$data_abs/local/$corpus/lexicon.txt" --grammar grid \
    --preset "$preset" ${e2e_init_from:+--e2e-init-from "$e2e_init_from"} ${extra_seeds:+--extra-seeds "$extra_seeds"} --nj "$nj" --seed "$seed" --results "$results"
fi
