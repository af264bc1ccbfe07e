#!/usr/bin/env bash
# A Hub data set's start, the runner beside `datasets` (the library users load Hub sets with):
# a 60,000-image 32x32 RGB Parquet set generated locally and served by the runner's fake Hub.
# Installs datasets into .venv-hf when missing; alternates the two in one sitting.
#
#   bench/hub.sh [--rounds 3] [--out /tmp/hub-bench]
#
# A benchmark, not a test: CI does not run it. Keep the machine otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
out=/tmp/hub-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ! -x .venv-hf/bin/python ]; then
  python3 -m venv .venv-hf
  .venv-hf/bin/pip install --quiet datasets pillow numpy
fi
cargo build --release --quiet --example hub_bench
bench_bin=$(cargo metadata --format-version 1 --no-deps | python3 -c "import json,sys; print(json.load(sys.stdin)[\"target_directory\"])")/release/examples/hub_bench
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
for round in $(seq "$rounds"); do
  runner=$("$bench_bin" --out "$out" --rounds 1)
  python=$(.venv-hf/bin/python bench/hub_datasets.py "$out/repo/plain_text" 1)
  echo "round $round: runner $runner"
  echo "round $round: datasets $python"
done
