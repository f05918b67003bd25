#!/usr/bin/env bash
# Install everything the tests need (servers, a venv with genosd[test]) and run them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-servers.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check genosd plugins tests bench
.venv/bin/ruff format --check -q genosd plugins tests bench
.venv/bin/mypy genosd plugins bench tests
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
