#!/usr/bin/env bash
# Run a command and report its wall time and the peak memory of its whole process tree (the sum of
# the resident set sizes of all its processes, sampled every second), e.g. the default recipe:
#   bench/measure_run.sh ./run.sh
# /usr/bin/time -v reports only the largest single process; the recipe runs jobs side by side.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 command [args...]" >&2; exit 1; }

tree_rss_kib() {  # sum of RSS (KiB) of $1 and all its descendants
  local pids=$1 frontier=$1 children
  while [[ -n $frontier ]]; do
    children=$(for p in $frontier; do pgrep -P "$p" || true; done | tr '\n' ' ')
    pids="$pids $children"; frontier=${children% }
  done
  # || true: the tree may end between the caller's kill -0 and this ps (pipefail + set -e would
  # end this script silently, without its report line)
  { ps -o rss= -p "$(echo $pids | tr ' ' ',')" 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}'
}

start=$(date +%s)
"$@" &
pid=$!
peak=0
while kill -0 "$pid" 2>/dev/null; do
  rss=$(tree_rss_kib "$pid")
  (( rss > peak )) && peak=$rss
  sleep 1
done
status=0; wait "$pid" || status=$?
echo "measure_run: exit $status, wall $(( $(date +%s) - start )) s, peak memory of the process tree $(( peak / 1024 )) MiB" >&2
exit "$status"
