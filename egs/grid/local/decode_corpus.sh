#!/usr/bin/env bash
# Decode every clip of a GRID-layout folder with every trained system of an exp dir; prints one
# %WER line per system, method and set. Any speakers (one, unknown names), with or without .align
# files (then the transcript comes from the clip name, GRID's digit code z included).
#   egs/grid/local/decode_corpus.sh --corpus-dir /work/shared/fixtures/grid_sample --exp exp
#   egs/grid/local/decode_corpus.sh --corpus-dir DIR --exp egs/grid/exp --noise babble --snr 0
# Options: --corpus-dir DIR (required, read only)  --exp DIR (default <repo>/exp: the embedded run)
#   --work DIR (default egs/grid/exp/decode_corpus/<folder name>: prepared clips, shadow model dirs, results)
#   --noise none|babble|white (default none)  --snr 'N ...' (dB, default 0): also decode noisy copies;
#   babble is made of the folder's other clips (never a clip's own)  --systems 'S ...' (default: all)
#   --beam B (GMM/hybrid HCLG beam, default 13)  --seed S  --nj N
set -euo pipefail
invocation_dir=$PWD
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
corpus_dir= exp=$root/exp work= noise=none snr=0 systems= beam=13 seed=1234 nj=1
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || { echo "error: $1 needs a value (see the header of $0)" >&2; exit 1; }
  case $1 in
    --corpus-dir) corpus_dir=$2 ;; --exp) exp=$2 ;; --work) work=$2 ;; --noise) noise=$2 ;; --snr) snr=$2 ;;
    --systems) systems=$2 ;; --beam) beam=$2 ;; --seed) seed=$2 ;; --nj) nj=$2 ;;
    *) echo "error: unknown option $1 (see the header of $0)" >&2; exit 1 ;;
  esac
  shift 2
done
[[ -n $corpus_dir ]] || { echo "error: --corpus-dir is required (a GRID-layout folder: <spk>/<utt>.mpg [+ alignments/<spk>/<utt>.align])" >&2; exit 1; }
case $noise in none|babble|white) ;; *) echo "error: --noise must be none, babble or white, not '$noise'" >&2; exit 1 ;; esac
abs() { [[ $1 = /* ]] && echo "$1" || echo "$invocation_dir/$1"; }
corpus_dir=$(abs "$corpus_dir") exp=$(abs "$exp")
[[ -d $corpus_dir ]] || { echo "error: $corpus_dir: no such folder" >&2; exit 1; }
[[ -d $exp ]] || { echo "error: $exp: no such exp dir (train a recipe first: ./run.sh or egs/grid/run.sh)" >&2; exit 1; }
work=$(abs "${work:-$root/egs/grid/exp/decode_corpus/$(basename "$corpus_dir")}")
data=$work/data
export PATH="$root/.venv/bin:$PATH" PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$data" "$work/log"

# The prepared clips belong to one folder state: a work dir made from other clips is refused.
key=$(cd "$corpus_dir" && find . -type f \( -name '*.mpg' -o -name '*.align' \) -printf '%p %s %T@\n' | LC_ALL=C sort | cksum)
if [[ -f $work/folder.key && $(cat "$work/folder.key") != "$key" ]]; then
  echo "error: $work: prepared from another folder (or the clips changed): remove it or give another --work" >&2; exit 1
fi
echo "$key" > "$work/folder.key"

echo "$(date '+%F %T') preparing $corpus_dir -> $data (every clip is test)"
python "$root/egs/grid/local/prepare_grid.py" --corpus-dir "$corpus_dir" --out-audio-dir "$data/wav" \
  --index-dir "$data/local/grid" --split all_test --nj "$nj" --log-file "$work/log/prepare.log"
python "$root/steps/make_manifests.py" --index-dir "$data/local/grid" --corpus grid --splits test \
  --out-dir "$data/manifests" --nj "$nj" --log-file "$work/log/manifests.log"
sets=test
if [[ $noise != none ]]; then
  # shellcheck disable=SC2086  # SNR list
  python "$root/egs/grid/local/make_folder_noise.py" --manifest-dir "$data/manifests" --noise-dir "$data/noise" \
    --noise "$noise" --snr $snr --seed "$seed" --log-file "$work/log/noise.log"
  for s in $snr; do sets="$sets test_${noise}_snr$(python -c "print(f'{float($s):g}')")"; done
fi
python "$root/steps/compute_features.py" --manifest-dir "$data/manifests" --corpus grid --out-dir "$data/fbank" \
  --video-dir "$data/video" --conf "$root/conf/features.yaml" --nj "$nj" --log-file "$work/log/features.log"
echo "$(date '+%F %T') decoding with the systems of $exp"
# shellcheck disable=SC2086  # set and system lists
python "$root/egs/grid/local/decode_corpus.py" --exp "$exp" --data "$data" --sets $sets \
  --out-dir "$work/decode_$(basename "$(dirname "$exp")")_$(basename "$exp")" --beam "$beam" \
  ${systems:+--systems $systems} --log-file "$work/log/decode.log"
