#!/usr/bin/env bash
# Prepares a CUDA build that needs no internet.
#
# Burn's CUDA backend JIT-compiles kernels with cubecl, which links LLVM through
# tracel-llvm-bundler. That crate's build script downloads an LLVM bundle into
# $XDG_DATA_HOME/tracel/tracel-llvm-<version>/ unless that folder already holds an install
# (marked by .tracel-llvm-installed). This script lays out such a folder over Debian's LLVM 22
# (installing it with apt-get when missing and run as root), inside the project, and prints the
# XDG_DATA_HOME to build with:
#
#   XDG_DATA_HOME="$(scripts/setup-cuda-build.sh)" cargo build --release --features cuda
#
# Online builds need none of this: `cargo build --release --features cuda` downloads the bundle.
set -euo pipefail

llvm="${LLVM_PREFIX:-/usr/lib/llvm-22}"
bundle_version="23.1.0-4" # tracel-llvm-bundler's version in Cargo.lock

if [ ! -x "$llvm/bin/llvm-config" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    {
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        llvm-22-dev libpolly-22-dev libzstd-dev zlib1g-dev libxml2-dev libz3-dev
    } >&2
  else
    echo "error: LLVM 22 not found at $llvm. Install Debian's llvm-22-dev libpolly-22-dev libzstd-dev" \
      "zlib1g-dev libxml2-dev libz3-dev (or set LLVM_PREFIX to an LLVM 22 install)." >&2
    exit 1
  fi
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
data_home="${RUNNER_LLVM_HOME:-$root/target/llvm-home}"
prefix="$data_home/tracel/tracel-llvm-$bundle_version"
mkdir -p "$prefix/bin"
[ -e "$prefix/include" ] || ln -s "$llvm/include" "$prefix/include"
[ -e "$prefix/lib" ] || ln -s "$llvm/lib" "$prefix/lib"
# Debian's llvm-config names libz3 by its full path; the bundler wants plain -l names.
wrapper="#!/bin/sh
\"$llvm/bin/llvm-config\" \"\$@\" | sed -e 's#[^ ]*/libz3\\.so[^ ]*#-lz3#g'"
if [ "$(cat "$prefix/bin/llvm-config" 2>/dev/null)" != "$wrapper" ]; then
  printf '%s\n' "$wrapper" >"$prefix/bin/llvm-config"
  chmod +x "$prefix/bin/llvm-config"
fi
# The bundler's build script reruns when this marker changes, and everything built on LLVM
# with it: create it once, never touch it again.
[ -e "$prefix/.tracel-llvm-installed" ] || touch "$prefix/.tracel-llvm-installed"
echo "$data_home"
