#!/usr/bin/env bash
# Prepares a GPU visit on this machine (no GPU needed): builds the CUDA binary offline, and packs
# it with MNIST and a 3,500-image folder data set into gpu-visit/ (ignored by git), small enough
# for the device's carry limit. On the device, from the checkout:
#
#   xz -d gpu-visit/runner.xz && chmod +x gpu-visit/runner && tar -xf gpu-visit/folder.tar -C gpu-visit
#   bash scripts/gpu-check.sh gpu-visit/runner gpu-visit/data "$OUT/runs" gpu-visit/folder
#
#   scripts/gpu-pack.sh [DATA_DIR]        (RUNNER_PACK_BINARY=path packs that binary instead)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
out=gpu-visit
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
binary="${RUNNER_PACK_BINARY:-}"
if [ -z "$binary" ]; then
  # About 15 minutes on 2 cores; LLVM from Debian (see scripts/setup-cuda-build.sh).
  XDG_DATA_HOME="$(scripts/setup-cuda-build.sh)" cargo build --release --features cuda
  binary="$CARGO_TARGET_DIR/release/runner"
fi
rm -rf "$out"
mkdir -p "$out/data"
xz -T0 -6 -c "$binary" >"$out/runner.xz"
cp -r "$data/mnist" "$out/data/"
# Every 20th image of MNIST as PNGs: a folder data set of 3,500 images (10 classes).
cargo run --release --quiet --example mnist_as_folder -- "$data" "$out/folder"
find "$out/folder" -name '*.png' | sort | awk 'NR % 20 != 0' | xargs rm -f
tar -cf "$out/folder.tar" -C "$out" folder && rm -r "$out/folder"
du -sh "$out" "$out"/*
