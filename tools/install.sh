#!/usr/bin/env bash
# Idempotent install into ./.venv (no root, PyPI only).
# torch==2.13.0 (CPU) goes first and pinned: anything that asks for plain `torch`
# before it is installed would pull a multi-GB CUDA build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${AVSR_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.avsr-install-stamp"
key="$(cat "$root/requirements.txt" "$root/tools/install.sh" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
  exit 0
fi
echo "[install] setting up $venv (first use or requirements changed)" >&2
if [[ ! -x "$venv/bin/python" ]]; then
  echo "[install] creating virtualenv with $($python --version)" >&2
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
# Some machines list local package folders that do not exist; pip's warnings about them are noise.
quiet_pip() { "${pip[@]}" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
echo "[install] torch==2.13.0 (CPU)" >&2
quiet_pip install -q torch==2.13.0
echo "[install] pinned dependencies from requirements.txt" >&2
quiet_pip install -q -r "$root/requirements.txt"
if [[ -L "$root/.venv" || "$venv" != "$root/.venv" ]]; then
  # a venv shared with another checkout (a symlinked .venv, or AVSR_VENV): re-pointing its editable
  # install here would silently switch every other user of it to this copy's code; the recipe's
  # scripts and tests put their own checkout first on sys.path, so none is needed
  echo "[install] $venv is not this checkout's own .venv: editable install skipped (for the avsr-transcribe" \
       "command: $venv/bin/python -m pip install --no-deps -e $root)" >&2
else
  echo "[install] avsr package (editable)" >&2
  quiet_pip install -q --no-deps -e "$root"
fi
# A CUDA torch sneaking in would be a silent multi-GB mistake: fail loudly instead.
"$venv/bin/python" - <<'PY'
import torch, kaldifst, kaldi_hmm_gmm, lhotse, cv2
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert kaldifst.__version__ if hasattr(kaldifst, "__version__") else True
assert int(cv2.__version__.split(".")[0]) < 5, cv2.__version__
print(f"[install] ok: torch {torch.__version__}, lhotse {lhotse.__version__}, opencv {cv2.__version__}")
PY
echo "$key" > "$stamp"
