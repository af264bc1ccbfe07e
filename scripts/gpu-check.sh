#!/usr/bin/env bash
# Runs the seed experiment (configs/mnist_cnn.toml) on a CUDA GPU twice, cold then warm, and
# prints test accuracy, wall time and GPU warm-up time for each.
#
#   scripts/gpu-check.sh [RUNNER_BINARY] [DATA_DIR] [RUNS_DIR]
#
# Build the binary with CUDA first (see README, "GPU"). The second run shows what a user pays
# once the kernel cache on disk is warm.
set -euo pipefail
bin="${1:-target/release/runner}"
data="${2:-data}"
runs="${3:-runs/gpu-check}"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
printf '%-6s %10s %10s %12s\n' round wall_s test_acc warmup_s
for round in cold warm; do
  start=$(date +%s.%N)
  "$bin" configs/mnist_cnn.toml --set backend=cuda --data-dir "$data" --runs-dir "$runs/$round" --offline --quiet >/dev/null
  end=$(date +%s.%N)
  run_dir=$(ls -d "$runs/$round"/*/ | tail -n 1)
  acc=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="final_test_acc") c=i} NR==2{print $c}' "$run_dir/summary.csv")
  warm=$(grep -A1 '"warmup_seconds"' "$run_dir/manifest.json" | tail -n 1 | sed 's/.*: *//; s/[,}]//g')
  printf '%-6s %10.1f %10s %12.1f\n' "$round" "$(awk "BEGIN{print $end - $start}")" "$acc" "$warm"
  cat "$run_dir/trials/"*/metrics.csv
done
