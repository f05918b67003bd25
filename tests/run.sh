#!/usr/bin/env bash
# Install everything the tests need (servers, a venv with genosd[test]) and run them.
# PYTHON picks the interpreter of a new venv and VENV its directory (default python3, .venv);
# extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
bash tests/install-servers.sh
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test]'
"$VENV/bin/ruff" check genosd plugins tests bench
"$VENV/bin/ruff" format --check -q genosd plugins tests bench
"$VENV/bin/mypy" genosd plugins bench tests
"$VENV/bin/lint-imports" --no-cache
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --durations=40 "$@"
