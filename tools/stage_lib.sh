# Sourced by recipes: logging, stage gating and completion markers.
#
# run_stage N "description" KEY command...
#   runs the stage when stage <= N <= stop_stage and its marker is missing or stale. KEY holds
#   the options that shape the stage's outputs (preset, seed, test sets, ...) and, through
#   $(inputs_key FILE...), the *content* hashes of the files it reads (configs, lexicon, LM text,
#   manifests). The marker ($marker_dir/stageN.done) stores KEY plus a hash of the markers of
#   every earlier stage, so a stage re-runs when
#     - its inputs' content changed (an edited config, another lexicon file with the same name), or
#     - an earlier stage was re-run since (each marker carries a fresh run id),
#   and it refuses (exit 1) when its options changed: outputs made with other options are in the
#   way, never mixed. A stage that runs deletes the markers of every later stage (in both the data
#   and the exp marker dirs), so they re-run too. The marker is written only after the stage
#   succeeded, so a killed stage re-runs.

log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') ($fname:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

# --stage / --stop-stage must be plain non-negative integers ("6x", "1.5", "" are errors, never
# silently "no stage selected").
_check_stage_number() {  # $1 = option name, $2 = value
  if ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "error: --${1//_/-} '$2': expected a non-negative integer stage number" >&2
    exit 1
  fi
}
[[ -n ${stage+set} ]] && _check_stage_number stage "$stage"
[[ -n ${stop_stage+set} ]] && _check_stage_number stop_stage "$stop_stage"

# stage_selected N: is stage N inside [--stage, --stop-stage]?
stage_selected() {
  [[ $stage -le $1 && $stop_stage -ge $1 ]]
}

# content_hash PATH...: sha256 over the contents of files (a directory: all its files, by
# relative path); a missing path hashes as "missing:<path>" so creating it changes the hash.
content_hash() {
  local p
  {
    for p in "$@"; do
      [[ -n $p ]] || continue
      if [[ -d $p ]]; then
        (cd "$p" && find . -type f ! -name '.*' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
      elif [[ -f $p ]]; then
        echo "$(sha256sum < "$p" | cut -c1-64) $p"
      else
        echo "missing:$p"
      fi
    done
  } | sha256sum | cut -c1-16
}

# inputs_key PATH...: the KEY token for content-hashed inputs (see run_stage).
inputs_key() {
  echo "inputs=$(content_hash "$@")"
}

_one_line() {  # a KEY on one line, single spaces (keys hold multi-line lists such as $test_sets_all)
  tr -s ' \t\n' '   ' <<< "$1" | sed -E 's/^ +//; s/ +$//'
}

_key_options() {  # KEY without its inputs=... tokens
  sed -E 's/(^| )inputs=[^ ]*//g; s/^ +//' <<< "$1"
}

_marker_dirs() {  # every marker dir of this recipe (data and exp stages), existing or not
  local d seen=" "
  for d in "${marker_dir:-}" "${data:+$data/.stages}" "${exp:+$exp/.stages}"; do
    [[ -n $d && $seen != *" $d "* ]] || continue
    seen+="$d "
    echo "$d"
  done
}

# _upstream_hash N: hash of the markers (with their run ids) of every stage before N.
_upstream_hash() {
  local d m k files=()
  while read -r d; do
    for m in "$d"/stage*.done; do
      [[ -f $m ]] || continue
      k=${m##*/stage}; k=${k%.done}
      [[ $k =~ ^[0-9]+$ && $k -lt $1 ]] && files+=("$m")
    done
  done < <(_marker_dirs)
  if [[ ${#files[@]} -eq 0 ]]; then echo none; return; fi
  printf '%s\n' "${files[@]}" | LC_ALL=C sort | while read -r m; do echo "${m##*/} $(sha256sum < "$m" | cut -c1-64)"; done \
    | sha256sum | cut -c1-16
}

# invalidate_after N: delete the markers of every stage after N (they depend on its outputs).
invalidate_after() {
  local d m k
  while read -r d; do
    for m in "$d"/stage*.done; do
      [[ -f $m ]] || continue
      k=${m##*/stage}; k=${k%.done}
      if [[ $k =~ ^[0-9]+$ && $k -gt $1 ]]; then
        rm -f "$m"
        log "  stage $k marker removed: stage $1 re-ran, so stage $k must run again"
      fi
    done
  done < <(_marker_dirs)
}

# stage_state N KEY: "done" (marker matches), "missing", "inputs" (same options, other inputs or
# upstream stages), "options" (other options: refuse), "old" (a marker from before content hashing).
stage_state() {
  local marker="$marker_dir/stage$1.done" line1
  [[ -f $marker ]] || { echo missing; return; }
  line1=$(head -n 1 "$marker")
  if [[ $(sed -n 2p "$marker") != run\ * ]]; then echo old; return; fi
  if [[ $line1 == "$2" ]]; then echo done
  elif [[ "$(_key_options "$line1")" == "$(_key_options "$2")" ]]; then echo inputs
  else echo options
  fi
}

stage_done() {  # stage_done N KEY: would run_stage N skip? (for recipes that test a marker directly)
  [[ $(stage_state "$1" "$(_one_line "$2") inputs=up$(_upstream_hash "$1")") == done ]]
}

mark_stage_done() {
  mkdir -p "$marker_dir"
  printf '%s\nrun %s %s\n' "$2" "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$RANDOM$RANDOM$$" > "$marker_dir/.stage$1.tmp" \
    && mv "$marker_dir/.stage$1.tmp" "$marker_dir/stage$1.done"
}

declare -a _stage_times=()

# run_stage N "description" KEY command...: gate, skip if done, time and log the stage.
run_stage() {
  local n=$1 desc=$2 key=$3; shift 3
  stage_selected "$n" || return 0
  key="$(_one_line "$key") inputs=up$(_upstream_hash "$n")"
  case $(stage_state "$n" "$key") in
    done)
      log "Stage $n: $desc — already done, skipping"
      _stage_times+=("$n|$desc|skipped")
      return 0 ;;
    options)
      # Outputs made with other options are in the way; never mix the two.
      echo "error: $marker_dir/stage$n.done: stage $n was run with '$(_key_options "$(head -n 1 "$marker_dir/stage$n.done")")', now '$(_key_options "$key")': use another --data/--exp dir or remove the old outputs" >&2
      exit 1 ;;
    inputs) log "Stage $n: its inputs changed (file contents or an earlier stage re-ran): re-running" ;;
    old) log "Stage $n: marker from before content hashing: re-running" ;;
  esac
  rm -f "$marker_dir/stage$n.done"
  invalidate_after "$n"
  log "Stage $n: $desc"
  local t0=$SECONDS
  "$@"
  mark_stage_done "$n" "$key"
  local dt=$((SECONDS - t0))
  log "Stage $n done in ${dt}s"
  _stage_times+=("$n|$desc|${dt}s")
}

print_stage_summary() {
  [[ ${#_stage_times[@]} -eq 0 ]] && return 0
  log "Stage wall times:"
  local row
  for row in "${_stage_times[@]}"; do
    IFS='|' read -r n desc t <<< "$row"
    printf '  stage %-3s %-55s %s\n' "$n" "$desc" "$t" >&2
  done
}

# spawn LOG command...: run a stage's job in the background, at most $nj at a time, output to LOG
# (with --nj 1 it runs in the foreground, output on the console). wait_all: wait for every
# spawned job; if any failed, show the end of its log and stop the recipe.
declare -a _job_pids=() _job_logs=()

spawn() {
  local logfile=$1; shift
  if [[ ${nj:-1} -le 1 ]]; then "$@"; return; fi
  while [[ ${#_job_pids[@]} -ge $nj ]]; do _wait_one; done
  mkdir -p "$(dirname "$logfile")"
  log "  started: $* (log: $logfile)"
  # one BLAS/OpenMP thread per job: $nj jobs already share the cores (numpy would oversubscribe them)
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "$@" > "$logfile" 2>&1 &
  _job_pids+=($!); _job_logs+=("$logfile")
}

# _wait_one: wait for the first job to finish (bash >= 5.1; older bash waits for the oldest).
_wait_one() {
  local pid=${_job_pids[0]} status=0 i
  if (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501 )); then
    wait -n -p pid "${_job_pids[@]}" || status=$?
  else
    wait "$pid" || status=$?
  fi
  for i in "${!_job_pids[@]}"; do
    [[ ${_job_pids[$i]} == "$pid" ]] || continue
    if [[ $status -ne 0 ]]; then
      echo "error: job failed (exit $status), end of ${_job_logs[$i]}:" >&2
      tail -n 20 "${_job_logs[$i]}" | tr '\r' '\n' | grep -v '^\s*$' | tail -n 12 >&2
      wait   # let the other jobs finish writing (atomic outputs) before stopping
      exit 1
    fi
    unset '_job_pids[i]' '_job_logs[i]'
    _job_pids=("${_job_pids[@]}"); _job_logs=("${_job_logs[@]}")
    return 0
  done
}

wait_all() {
  while [[ ${#_job_pids[@]} -gt 0 ]]; do _wait_one; done
}
