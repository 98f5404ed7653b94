#!/usr/bin/env bash
# GRID corpus recipe (Cooke et al. 2006): point --grid-root at the unpacked corpus
# (<root>/<spk>/<utt>.mpg, <root>/alignments/<spk>/<utt>.align). The corpus is only read.
# Stages 1-3 are the default recipe's steps; only stage 0 (local/) is GRID's own.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)

stage=0
stop_stage=100
grid_root=
seed=1234
nj=2
data=data
exp=exp
corpus=grid
dev_speakers="s3 s4"
test_speakers="s1 s2 s20 s22"

help_message="Usage: egs/grid/run.sh --grid-root /path/to/GRID [options]
Options:
  --grid-root DIR      unpacked GRID corpus (read only)
  --stage N            first stage (default $stage)
  --stop-stage N       last stage (default $stop_stage)
  --dev-speakers 'S..' held-out dev speakers (default '$dev_speakers')
  --test-speakers 'S..' unseen test speakers (default '$test_speakers', LipNet's unseen-speaker split)
  --seed S             noise seed (default $seed)
  --nj N               parallel jobs (default $nj)
  --data DIR, --exp DIR  output dirs (default $data, $exp; relative to egs/grid)
Stages:
  0  index GRID, transcripts from .align (or the utterance name), audio track -> 16 kHz wav  -> \$data/wav, \$data/local/grid
  1  lhotse manifests (audio + video), validated; bad clips listed               -> \$data/manifests
  2  noisy dev/test copies (white, babble; 20..-5 dB)                            -> \$data/manifests, \$data/noise
  3  features: fbank 80, MFCC 24, Haar mouth ROI + DCT, ROI report               -> \$data/fbank, \$data/video"

. "$root/tools/parse_options.sh"
. "$root/tools/stage_lib.sh"

if [[ -z "$grid_root" ]]; then
  echo "error: --grid-root is required (the unpacked GRID corpus)" >&2
  exit 1
fi
bash "$root/tools/install.sh"
export PATH="$root/.venv/bin:$PATH"
marker_dir=$data/.stages
mkdir -p "$exp/log"
key="grid_root=$grid_root dev=$dev_speakers test=$test_speakers"

# shellcheck disable=SC2086  # speaker lists are meant to split into words
run_stage 0 "prepare GRID from $grid_root" "$key" \
  python local/prepare_grid.py --corpus-dir "$grid_root" --out-audio-dir "$data/wav" \
    --index-dir "$data/local/$corpus" --dev-speakers $dev_speakers --test-speakers $test_speakers \
    --nj "$nj" --log-file "$exp/log/stage0_prepare.log"

run_stage 1 "lhotse manifests" "$key" \
  python "$root/steps/make_manifests.py" --index-dir "$data/local/$corpus" --corpus "$corpus" \
    --out-dir "$data/manifests" --nj "$nj" --log-file "$exp/log/stage1_manifests.log"

run_stage 2 "noisy dev/test sets" "$key seed=$seed $(cksum < "$root/conf/noise.yaml")" \
  python "$root/steps/make_noisy_sets.py" --manifest-dir "$data/manifests" --corpus "$corpus" \
    --noise-dir "$data/noise" --conf "$root/conf/noise.yaml" --seed "$seed" --log-file "$exp/log/stage2_noise.log"

run_stage 3 "audio + video features" "$key seed=$seed $(cat "$root/conf/noise.yaml" "$root/conf/features.yaml" | cksum)" \
  python "$root/steps/compute_features.py" --manifest-dir "$data/manifests" --corpus "$corpus" \
    --out-dir "$data/fbank" --video-dir "$data/video" --conf "$root/conf/features.yaml" \
    --nj "$nj" --log-file "$exp/log/stage3_features.log"

print_stage_summary
