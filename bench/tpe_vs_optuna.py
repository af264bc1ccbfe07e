"""TPE against random search and against Optuna's TPESampler on known functions.

    python3 bench/tpe_vs_optuna.py [--trials 100] [--seeds 30] [--functions branin,hartmann6,mixed]
    python3 bench/tpe_vs_optuna.py --functions branin --seeds 300 --blocks 30

Needs `optuna` and `scipy` (pip install optuna scipy) and builds the runner's
`examples/search_bench.rs` (cargo run --release). For each function and `parallel` in 1 and 4
it prints the median over seeds of the best objective after the trials, the regret (best minus
the function's minimum), the one-sided Mann-Whitney U test of TPE's bests against random
search's (p < 0.01 means TPE is better), and the runner's median regret over Optuna's.

With --blocks B it then splits the seeds into blocks of B (0..B-1, B..2B-1, ...) and prints how
much a block's regret ratio moves by chance: the runner's over Optuna's in each block, and
Optuna's over its own in every other block (how often Optuna comes within 10 % of itself).
"""

import argparse
import json
import math
import os
import statistics
import subprocess

import optuna
from scipy.stats import mannwhitneyu

MINIMUM = {"branin": 0.397887, "hartmann6": -3.32237, "mixed": 0.0}


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6))) for i in range(4))


def objective(function, trial):
    if function == "branin":
        return branin(trial.suggest_float("x1", -5, 10), trial.suggest_float("x2", 0, 15))
    if function == "hartmann6":
        return hartmann6([trial.suggest_float(f"x{j}", 0, 1) for j in range(6)])
    lr = trial.suggest_float("lr", 1e-5, 1, log=True)
    layers = trial.suggest_int("layers", 1, 20)
    optimizer = trial.suggest_categorical("optimizer", [0, 1, 2])
    # The conditional key: drawn for optimizer 0 only.
    choice = 4 * (trial.suggest_float("momentum", 0, 1) - 0.3) ** 2 if optimizer == 0 else [0, 0.5, 1.0][optimizer]
    return (math.log10(lr) + 2) ** 2 + (layers - 7) ** 2 / 20 + choice


def optuna_bests(function, trials, seeds, parallel):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bests = []
    for seed in range(seeds):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        while len(study.trials) < trials:
            asked = [study.ask() for _ in range(min(parallel, trials - len(study.trials)))]
            # A round: every trial draws its values (suggest_*) before any of them is told.
            values = [objective(function, trial) for trial in asked]
            for trial, value in zip(asked, values):
                study.tell(trial, value)
        bests.append(study.best_value)
    return bests


def runner_bests(function, sampler, trials, seeds, parallel):
    # SEARCH_BENCH: a search_bench binary already built (else cargo builds and runs it).
    command = [os.environ["SEARCH_BENCH"]] if os.environ.get("SEARCH_BENCH") else \
        ["cargo", "run", "--release", "--quiet", "--example", "search_bench", "--"]
    out = subprocess.run(
        command + ["--function", function, "--sampler", sampler, "--trials", str(trials), "--seeds", str(seeds),
                   "--parallel", str(parallel)],
        check=True, capture_output=True, text=True).stdout
    return [min(values) for values in json.loads(out)["values"]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--functions", default="branin,hartmann6,mixed")
    parser.add_argument("--blocks", type=int, default=0, help="seeds per block for the chance table (0: none)")
    args = parser.parse_args()
    if args.blocks and (args.seeds % args.blocks or args.seeds < 2 * args.blocks):
        parser.error("--blocks must divide --seeds into two blocks or more")
    studies = []
    print(f"median best after {args.trials} trials over {args.seeds} seeds (regret = best - minimum)")
    print("| function | parallel | runner TPE | random | Mann-Whitney U p (TPE < random) | Optuna TPE | regret runner / Optuna |")
    print("|---|---|---|---|---|---|---|")
    for function in args.functions.split(","):
        for parallel in [1, 4]:
            tpe = runner_bests(function, "tpe", args.trials, args.seeds, parallel)
            rnd = runner_bests(function, "random", args.trials, args.seeds, parallel)
            opt = optuna_bests(function, args.trials, args.seeds, parallel)
            p = mannwhitneyu(tpe, rnd, alternative="less").pvalue
            regret = lambda bests: statistics.median(bests) - MINIMUM[function]
            print(f"| {function} | {parallel} | {statistics.median(tpe):.5f} | {statistics.median(rnd):.5f} | {p:.2e} "
                  f"| {statistics.median(opt):.5f} | {regret(tpe) / regret(opt):.2f} |", flush=True)
            studies.append((function, parallel, tpe, opt, regret))
    if args.blocks:
        chance_table(studies, args.blocks)


def chance_table(studies, size):
    """Per block of `size` seeds, the regret ratio runner / Optuna; and Optuna / Optuna across blocks."""
    print(f"\nregret ratios per block of {size} seeds; within 10 %: ratio <= 1.10")
    print("| function | parallel | runner / Optuna, all seeds | Mann-Whitney U p (two-sided) | runner / Optuna per block "
          "| blocks within 10 % | Optuna / Optuna between blocks: within 10 % |")
    print("|---|---|---|---|---|---|---|")
    for function, parallel, tpe, opt, regret in studies:
        blocks = range(0, len(tpe), size)
        ours = [regret(tpe[b:b + size]) / regret(opt[b:b + size]) for b in blocks]
        selfs = [regret(opt[b:b + size]) / regret(opt[c:c + size]) for b in blocks for c in blocks if b != c]
        near = lambda ratios: sum(r <= 1.10 for r in ratios)
        p = mannwhitneyu(tpe, opt).pvalue
        print(f"| {function} | {parallel} | {regret(tpe) / regret(opt):.2f} | {p:.2f} | {' '.join(f'{r:.2f}' for r in ours)} "
              f"| {near(ours)} of {len(ours)} | {near(selfs)} of {len(selfs)} ({100 * near(selfs) / len(selfs):.0f} %) |",
              flush=True)


if __name__ == "__main__":
    main()
