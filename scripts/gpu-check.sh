#!/usr/bin/env bash
# Runs the seed experiment (configs/mnist_cnn.toml) on a CUDA GPU twice, cold then warm, and
# prints test accuracy, wall time and GPU warm-up time for each.
#
#   scripts/gpu-check.sh [RUNNER_BINARY] [DATA_DIR] [RUNS_DIR]
#
# Build the binary with CUDA first (see README, "GPU"). The second run shows what a user pays
# once the kernel cache on disk is warm. With OUT set (the device machine), the figures and each
# run's metrics.csv are also written to $OUT/gpu-check.txt. tests/gpu_check.rs runs this script
# end to end with a stand-in binary that trains on the CPU, so it cannot rot between GPU visits.
set -euo pipefail
bin="${1:-target/release/runner}"
data="${2:-data}"
runs="${3:-runs/gpu-check}"
report="${OUT:+$OUT/gpu-check.txt}"
report="${report:-/dev/null}"

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "(no nvidia-smi)"
  printf '%-6s %10s %10s %12s\n' round wall_s test_acc warmup_s
} | tee "$report"
for round in cold warm; do
  start=$(date +%s.%N)
  "$bin" configs/mnist_cnn.toml --set backend=cuda --data-dir "$data" --runs-dir "$runs/$round" --offline --quiet >/dev/null
  end=$(date +%s.%N)
  run_dir=$(ls -d "$runs/$round"/*/ | tail -n 1)
  acc=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="final_test_acc") c=i} NR==2{print $c}' "$run_dir/summary.csv")
  # Each trial records its warm-up in its own status.json (a CPU trial has none: "-").
  warm=$(sed -n 's/.*"warmup_seconds": *\([0-9.eE+-]*\).*/\1/p' "$run_dir"/trials/*/status.json | head -n 1)
  printf '%-6s %10.1f %10s %12s\n' "$round" "$(awk "BEGIN{print $end - $start}")" "$acc" "${warm:--}" | tee -a "$report"
  cat "$run_dir/trials/"*/metrics.csv | tee -a "$report"
done
