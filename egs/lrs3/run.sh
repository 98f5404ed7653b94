#!/usr/bin/env bash
# LRS3-TED recipe (Afouras, Chung & Zisserman, 2018). LRS3 needs a licence: download it yourself
# (see README.md or --download true) and point --lrs3-root at the unpacked folders
# (<root>/{pretrain,trainval,test}/<video_id>/<clip>.{mp4,txt}). The corpus is only read.
# Stage 0 (local/) is LRS3's own; every later stage is the top-level ./run.sh, which this
# script calls with --corpus lrs3 (see docs/recipes.md).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)

stage=0
stop_stage=100
lrs3_root=
download=false
subsets="pretrain trainval test"
dev_size=1000
max_seconds=15
seed=1234
nj=2
preset=default
data=data
exp=exp
corpus=lrs3

help_message="Usage: egs/lrs3/run.sh --lrs3-root /path/to/LRS3 [options]
Options:
  --lrs3-root DIR      unpacked LRS3 (pretrain/ trainval/ test/; read only)
  --download true      print what to download and where to put it, check --lrs3-root if given, then exit
                       (nothing is downloaded: LRS3 is licensed)
  --stage N            first stage (default $stage)
  --stop-stage N       last stage (default $stop_stage)
  --subsets 'S..'      LRS3 subsets to use (default '$subsets'; drop pretrain for a ~30 h training set)
  --dev-size N         dev = whole trainval speakers (video ids) until >= N clips (default $dev_size)
  --max-seconds S      cut pretrain clips longer than S s at word boundaries (default $max_seconds; 0 = never)
  --seed S             dev speaker choice, noise, training (default $seed)
  --nj N               parallel jobs (default $nj)
  --preset P           training length / test conditions of the top-level recipe (default $preset)
  --data DIR, --exp DIR  output dirs (default $data, $exp; relative to egs/lrs3)
Stages:
  0   check the download, index LRS3, transcripts + word times from the .txt, audio track ->
      16 kHz wav, long pretrain clips cut, CMUdict(+espeak) lexicon of the training words
                                                     -> \$data/lrs3, \$data/local/lrs3
  1+  the top-level ./run.sh stages 1-14 with --corpus lrs3 --grammar none (manifests, noise,
      features, lang, LM, GMM, hybrid, CTC/attention, transducer, leaderboard)"

run_command="egs/lrs3/run.sh $*"   # recorded in RESULTS.md
. "$root/tools/parse_options.sh"
. "$root/tools/stage_lib.sh"

download_note="LRS3 is distributed under a licence by the Visual Geometry Group, University of Oxford:
  1. read and accept the terms at https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrs3.html
     (you receive download credentials by e-mail);
  2. fetch the pretrain, trainval and test archives (split into parts: concatenate the parts, then unzip);
  3. unpack so that <root>/pretrain/<video_id>/<clip>.mp4 (+ .txt), <root>/trainval/... and <root>/test/... exist;
  4. run: egs/lrs3/run.sh --lrs3-root <root>
Roughly 100+ GB of mp4s (pretrain is most of it); see egs/lrs3/README.md."

if [[ $download != false ]]; then
  echo "$download_note"
  if [[ -n "$lrs3_root" ]]; then
    # shellcheck disable=SC2086  # the subset list is meant to split into words
    PYTHONPATH="$root" "$root/.venv/bin/python" local/prepare_lrs3.py --corpus-dir "$lrs3_root" --subsets $subsets --check
  fi
  exit 0
fi
if [[ -z "$lrs3_root" ]]; then
  echo "error: --lrs3-root is required (the unpacked LRS3 corpus; --download true says how to get it)" >&2
  exit 1
fi
bash "$root/tools/install.sh"
export PATH="$root/.venv/bin:$PATH"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$data" "$exp/log"
data=$(cd "$data" && pwd); exp=$(cd "$exp" && pwd)   # the top-level run.sh works from the repo root
marker_dir=$data/.stages
key="lrs3_root=$lrs3_root subsets=$subsets dev_size=$dev_size max_seconds=$max_seconds seed=$seed"

# shellcheck disable=SC2086
run_stage 0 "prepare LRS3 from $lrs3_root" "$key" \
  python local/prepare_lrs3.py --corpus-dir "$lrs3_root" --media-dir "$data/$corpus" \
    --index-dir "$data/local/$corpus" --subsets $subsets --dev-size "$dev_size" \
    --max-seconds "$max_seconds" --seed "$seed" --nj "$nj" --log-file "$exp/log/stage0_prepare.log"
print_stage_summary

if [[ $stop_stage -ge 1 ]]; then
  first=$(( stage > 1 ? stage : 1 ))
  RUN_COMMAND="$run_command" "$root/run.sh" --corpus "$corpus" --data "$data" --exp "$exp" \
    --stage "$first" --stop-stage "$stop_stage" --modality av --grammar none \
    --lexicon "$data/local/$corpus/lexicon.txt" --preset "$preset" --nj "$nj" --seed "$seed"
fi
