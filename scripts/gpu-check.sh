#!/usr/bin/env bash
# The one script a GPU visit runs (about 5 minutes on an H200). It measures, on cuda:
#   1. the seed CNN and NN experiments cold (empty kernel cache) and warm, with where each
#      trial's seconds went (status.json's timings);
#   2. `runner bench --backends cuda` for the seed CNN, conv_channels=[64,128], and
#      kernel_size=5 / padding="same" / batch_norm=true;
#   3. a 2-epoch run of each option (early stopping: 3 epochs, stopped after the 2nd) (validation split, schedule, augmentation, early stopping,
#      an ASHA search, an image folder) on cuda and on cpu, their test accuracies side by side;
#   4. eight 1-epoch seed-CNN trials at --jobs 1, 2, 4, 8 on the one GPU (trials per minute).
#
#   scripts/gpu-check.sh [RUNNER_BINARY] [DATA_DIR] [RUNS_DIR] [IMAGE_FOLDER]
#
# Build the binary with CUDA first (see README, "GPU"). IMAGE_FOLDER is a folder data set (one
# sub-folder per class); without one that row is skipped. Everything printed also goes to
# $OUT/gpu-check.txt when OUT is set (the device machine). tests/gpu_check.rs runs this script
# end to end with a stand-in binary that trains on the CPU, so it cannot rot between visits.
set -euo pipefail
set -f # no globbing: spec values such as [64,128] are words, not patterns
bin="${1:-target/release/runner}"
data="${2:-data}"
runs="${3:-runs/gpu-check}"
folder="${4:-}"
report="${OUT:+$OUT/gpu-check.txt}"
report="${report:-/dev/null}"
: >"$report"
say() { printf "$@" | tee -a "$report"; }
now() { date +%s.%N; }
seconds() { awk "BEGIN{printf \"%.1f\", $2 - $1}"; }
# A column of a run's summary.csv, first trial.
cell() { awk -F, -v key="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==key) c=i} NR==2{print $c}' "$1/summary.csv"; }
last_run() { (set +f; ls -d "$1"/*/ | tail -n 1); }
# Kernels and autotune results go to a cache of this script's own, emptied for the cold rounds.
export RUNNER_KERNEL_CACHE="$runs/kernel-cache"

say '%s\n' "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo '(no nvidia-smi)')"

say '\n## 1. seed experiments (5 epochs, batch 100, test set every epoch)\n'
say '%-6s %-5s %8s %9s %9s\n' round model wall_s test_acc warmup_s
for model in cnn nn; do
  rm -rf "$RUNNER_KERNEL_CACHE"
  for round in cold warm; do
    start=$(now)
    "$bin" "configs/mnist_$model.toml" --set backend=cuda --data-dir "$data" --runs-dir "$runs/$round-$model" \
      --offline --quiet >/dev/null
    wall=$(seconds "$start" "$(now)")
    run_dir=$(last_run "$runs/$round-$model")
    # Each trial records its warm-up in its own status.json (a CPU trial has none: "-").
    status="$(set +f; cat "$run_dir"/trials/*/status.json)"
    warm=$(sed -n 's/.*"warmup_seconds": *\([0-9.eE+-]*\).*/\1/p' <<<"$status" | head -n 1)
    say '%-6s %-5s %8s %9s %9s\n' "$round" "$model" "$wall" "$(cell "$run_dir" final_test_acc)" "${warm:--}"
    # Where the seconds went: "timings" of status.json on one line.
    say '       timings: %s\n' "$(tr -d ' \n' <<<"$status" | sed -n 's/.*"timings":{\([^}]*\)}.*/\1/p')"
    (set +f; cat "$run_dir"/trials/*/metrics.csv) >>"$report"
  done
done

say '\n## 2. train step (runner bench --backends cuda)\n'
for shape in "" "--set conv_channels=[64,128]" "--set kernel_size=5 --set padding=same --set batch_norm=true"; do
  say '### %s\n' "${shape:-seed models}"
  # shellcheck disable=SC2086 # the shape is several words on purpose
  "$bin" bench --backends cuda --data-dir "$data" $shape 2>&1 | tee -a "$report"
done

say '\n## 3. options, 2 epochs, cuda vs cpu (test accuracy)\n'
asha_spec="$runs/asha.toml"
mkdir -p "$runs/options"
cat >"$asha_spec" <<'EOF'
name = "asha"
model = "cnn"
val_split = 0.1
[search]
method = "asha"
trials = 4
seed = 3
[search.space]
lr = { log_uniform = [0.003, 0.1] }
EOF
options=(
  "val_split|configs/mnist_cnn.toml|--set val_split=0.1"
  "schedule|configs/mnist_cnn.toml|--set lr_schedule=cosine"
  "augment|configs/mnist_cnn.toml|--set augment=[\"random_crop\"]"
  "early_stop|configs/mnist_cnn.toml|--set val_split=0.1 --set patience=1 --set min_delta=0.5 --set epochs=3"
  "asha|$asha_spec|"
)
[ -n "$folder" ] && options+=("folder|configs/mnist_cnn.toml|--set dataset=folder --set folder=$folder")
say '%-11s %9s %9s %8s %6s\n' option cuda_acc cpu_acc diff_pt match
for option in "${options[@]}"; do
  IFS='|' read -r name spec sets <<<"$option"
  declare -A acc=()
  for backend in cuda cpu; do
    out="$runs/options/$name-$backend"
    # shellcheck disable=SC2086
    if "$bin" "$spec" --set backend=$backend --set epochs=2 --set limit_train=6000 --set limit_test=2000 $sets \
      --data-dir "$data" --runs-dir "$out" --offline --quiet >"$out.log" 2>&1; then
      acc[$backend]=$(cell "$(last_run "$out")" final_test_acc)
    else
      acc[$backend]=failed
      tail -n 5 "$out.log" | tee -a "$report"
    fi
  done
  if [[ "${acc[cuda]}${acc[cpu]}" == *failed* ]]; then
    say '%-11s %9s %9s %8s %6s\n' "$name" "${acc[cuda]}" "${acc[cpu]}" - no
  else
    diff=$(awk "BEGIN{printf \"%+.2f\", (${acc[cuda]} - ${acc[cpu]}) * 100}")
    match=$(awk "BEGIN{print ((${acc[cuda]} - ${acc[cpu]})^2 <= 0.01^2) ? \"yes\" : \"no\"}")
    say '%-11s %9s %9s %8s %6s\n' "$name" "${acc[cuda]}" "${acc[cpu]}" "$diff" "$match"
  fi
  unset acc
done

say '\n## 4. eight 1-epoch seed-CNN trials on one GPU\n'
say '%-5s %8s %14s\n' jobs wall_s trials_per_min
for jobs in 1 2 4 8; do
  start=$(now)
  "$bin" configs/mnist_cnn.toml --set backend=cuda --set epochs=1 --set 'sweep.seed=[1,2,3,4,5,6,7,8]' \
    --jobs "$jobs" --data-dir "$data" --runs-dir "$runs/jobs-$jobs" --offline --quiet >/dev/null
  wall=$(seconds "$start" "$(now)")
  say '%-5s %8s %14s\n' "$jobs" "$wall" "$(awk "BEGIN{printf \"%.1f\", 8 * 60 / $wall}")"
done
