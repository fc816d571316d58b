#!/usr/bin/env bash
# Set-up shared by demo.sh and test.sh: a virtualenv in .venv with the package and its extras
# (bench included, so the test run also drives the benchmark harness at a tiny size).
# torch is pinned to the CPU build that ships on this kind of machine; any other torch spec
# would pull several GB of CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -e ".[all,test,bench]"  # bench: the harness smoke test runs too
