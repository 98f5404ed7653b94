# Sourced by recipes: logging, stage gating and completion markers.
# A stage runs when stage <= N <= stop_stage and its marker is missing or was made with other
# options; the marker is written only after the stage succeeded, so a killed stage reruns.

log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') ($fname:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

# stage_selected N: is stage N inside [--stage, --stop-stage]?
stage_selected() {
  [[ $stage -le $1 && $stop_stage -ge $1 ]]
}

# stage_done N KEY: marker for stage N exists and was made with the same KEY (options that matter).
stage_done() {
  local marker="$marker_dir/stage$1.done"
  [[ -f "$marker" && "$(cat "$marker")" == "$2" ]]
}

mark_stage_done() {
  mkdir -p "$marker_dir"
  echo "$2" > "$marker_dir/.stage$1.tmp" && mv "$marker_dir/.stage$1.tmp" "$marker_dir/stage$1.done"
}

declare -a _stage_times=()

# run_stage N "description" KEY command...: gate, skip if done, time and log the stage.
run_stage() {
  local n=$1 desc=$2 key=$3; shift 3
  stage_selected "$n" || return 0
  if stage_done "$n" "$key"; then
    log "Stage $n: $desc — already done, skipping"
    _stage_times+=("$n|$desc|skipped")
    return 0
  fi
  if [[ -f "$marker_dir/stage$n.done" ]]; then
    # Outputs made with other options are in the way; never mix the two.
    echo "error: $marker_dir/stage$n.done: stage $n was run with '$(cat "$marker_dir/stage$n.done")', now '$key': use another --data/--exp dir or remove the old outputs" >&2
    exit 1
  fi
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
