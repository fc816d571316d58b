#!/usr/bin/env bash
# The static checks (ruff lint and format, mypy strict, the import-linter contracts), then the
# whole test suite (unit, contract, property, integration, notebooks) in one pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
ruff check .
ruff format --check .
mypy
lint-imports
python -m pytest -p no:cacheprovider --nbmake --nbmake-timeout=300 tests notebooks "$@"
