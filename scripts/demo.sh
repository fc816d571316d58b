#!/usr/bin/env bash
# The demo: a persistent hybrid store (SciFact slice, or the bundled sample) under ./mira_data,
# searched with hybrid queries that print their score parts. Pass extra flags to `mira-vs demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m mira_vectorstores.cli demo "$@"
