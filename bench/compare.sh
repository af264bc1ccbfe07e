#!/usr/bin/env bash
# Side-by-side benchmark: the runner vs the seed's PyTorch script on the seed experiment.
# Installs PyTorch into .venv when missing, builds the release binary, then alternates the two.
#
#   bench/compare.sh [--rounds 3] [--epochs 5] [--models nn,cnn] [--data data/mnist]
#
# A benchmark, not a test: CI does not run it. Keep the machine otherwise idle.
set -euo pipefail
source "$(dirname "$0")/prepare.sh"
exec .venv/bin/python bench/compare.py --binary "$binary" "$@"
