#!/usr/bin/env bash
# Train-step speed of the runner against PyTorch for the architectures users write (the seed CNN,
# wider and deeper CNNs, the NNs), on MNIST and CIFAR-10 shapes, both CPU backends; alternating
# in one sitting. Installs PyTorch into .venv when missing and builds the release binary.
#
#   bench/speed.sh [--rounds 3] [--steps 20] [--nn-steps 200] [--backends cpu,ndarray] [--images mnist,cifar] [--shapes seed,NN]
#
# A benchmark, not a test: CI does not run it. Keep the machine otherwise idle.
set -euo pipefail
source "$(dirname "$0")/prepare.sh"
exec .venv/bin/python bench/speed.py --binary "$binary" "$@"
