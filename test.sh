#!/usr/bin/env bash
# README's second command: install (no-op once done) and run the test suite on $AVSR_TEST_WORKERS
# processes (default 2; 1 = no pytest-xdist). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install.sh
workers=${AVSR_TEST_WORKERS:-2}
if [[ $workers -gt 1 ]]; then
  exec .venv/bin/python -m pytest -q -n "$workers" --dist loadfile "$@"
fi
exec .venv/bin/python -m pytest -q "$@"
