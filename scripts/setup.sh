#!/usr/bin/env bash
# Installs the locked environment (runtime + dev tools) into ./.venv, on Python >= 3.11.
#
# Poetry is the package manager. Where `poetry install` works it is used as is. Where it does not
# (for example a package index that serves only the "simple" API), the same locked set is exported
# with poetry-plugin-export and installed with `pip install --require-hashes` into the same .venv.
# Poetry itself is taken from PATH, or installed into ./.tools when it is missing there.
# Re-running is cheap: nothing is reinstalled while poetry.lock is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
STAMP=.venv/.installed-from-lock

lock_digest() { "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' poetry.lock; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(lock_digest)" ]; then
  exit 0
fi

if command -v poetry >/dev/null 2>&1 && poetry export --help >/dev/null 2>&1; then
  POETRY=poetry
else
  if [ ! -x .tools/bin/poetry ]; then
    echo "setup: installing Poetry into ./.tools" >&2
    "$PYTHON" -m venv .tools
    .tools/bin/python -m pip install --quiet "poetry>=2.0,<3" "poetry-plugin-export>=1.8"
  fi
  POETRY=$PWD/.tools/bin/poetry
fi

mkdir -p .tools
LOG=.tools/poetry-install.log
if "$POETRY" install --no-root --with dev >"$LOG" 2>&1; then
  echo "setup: installed with poetry install" >&2
else
  # Expected where the index serves only the simple API: Poetry finds no files for the locked
  # versions. Anything else is a real failure and says so; pip then tries the same locked set.
  if grep -q "Unable to find installation candidates" "$LOG"; then
    echo "setup: installing the locked set with pip (poetry install is not available here)" >&2
  else
    echo "setup: 'poetry install' failed (see $LOG); installing the locked set with pip" >&2
  fi
  "$POETRY" export --with dev --format requirements.txt --output .tools/requirements.txt
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --require-hashes -r .tools/requirements.txt
fi
lock_digest >"$STAMP"
