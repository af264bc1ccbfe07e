# Sourced by bench/compare.sh and bench/speed.sh: installs PyTorch into .venv when missing,
# builds the release binary and sets $binary to it.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet torch numpy
fi
cargo build --release --quiet
binary="${CARGO_TARGET_DIR:-target}/release/runner"
