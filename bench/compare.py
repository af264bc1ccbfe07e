"""Runs the runner and the PyTorch reference alternately on the seed experiment and prints
medians, min-max and runner/PyTorch ratios. Called by bench/compare.sh."""
import argparse
import csv
import glob
import json
import os
import statistics
import subprocess
import tempfile


def timed(cmd):
    """Runs cmd under /usr/bin/time; returns (stdout, wall seconds, peak RSS in MB)."""
    with tempfile.NamedTemporaryFile("r") as t:
        out = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name, *cmd], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stderr}")
        wall, rss = t.read().split()[-2:]
    return out.stdout, float(wall), int(rss) / 1024


def runner(binary, model, epochs, data, backend):
    with tempfile.TemporaryDirectory() as runs:
        cmd = [binary, f"configs/mnist_{model}.toml", "--data-dir", data, "--runs-dir", runs, "--quiet",
               "--set", f"epochs={epochs}", "--set", f"backend={backend}"]
        _, wall, rss = timed(cmd)
        run = glob.glob(os.path.join(runs, "*"))[0]
        rows = list(csv.DictReader(open(glob.glob(os.path.join(run, "trials", "*", "metrics.csv"))[0])))
        ips = statistics.mean(float(r["images_per_second"]) for r in rows)
        return {"seconds": wall, "img/s": ips, "rss_mb": rss, "acc": float(rows[-1]["test_acc"])}


def pytorch(python, model, epochs, data):
    out, wall, rss = timed([python, "bench/reference.py", "--model", model, "--epochs", str(epochs), "--data", data])
    result = json.loads(out.strip().splitlines()[-1])
    return {"seconds": wall, "img/s": result["train_images_per_second"], "rss_mb": rss, "acc": result["test_acc"]}


def spread(values, fmt):
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--models", default="nn,cnn")
    p.add_argument("--backend", default="cpu")
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--binary", default="target/release/runner")
    p.add_argument("--python", default=".venv/bin/python")
    a = p.parse_args()
    data_root = os.path.dirname(os.path.abspath(a.data))
    results = {}
    for r in range(a.rounds):
        for model in a.models.split(","):
            ours = runner(a.binary, model, a.epochs, data_root, a.backend)
            theirs = pytorch(a.python, model, a.epochs, a.data)
            results.setdefault(model, []).append((ours, theirs))
            print(f"round {r + 1} {model}: runner {ours}  pytorch {theirs}", flush=True)
    print(f"\nseed experiment, MNIST, {a.epochs} epochs, batch 100, SGD lr 0.01; {a.rounds} rounds, alternating; "
          f"runner backend {a.backend}; median (min-max)\n")
    print("| model | metric | runner | PyTorch | runner / PyTorch |")
    print("|---|---|---|---|---|")
    metrics = [("seconds", "end-to-end s", lambda v: f"{v:.1f}"), ("img/s", "train img/s", lambda v: f"{v:.0f}"),
               ("rss_mb", "peak RSS MB", lambda v: f"{v:.0f}"), ("acc", "test acc", lambda v: f"{100 * v:.2f}%")]
    for model, rounds in results.items():
        for key, label, fmt in metrics:
            ours = [o[key] for o, _ in rounds]
            theirs = [t[key] for _, t in rounds]
            ratios = [o[key] / t[key] for o, t in rounds]
            print(f"| {model} | {label} | {spread(ours, fmt)} | {spread(theirs, fmt)} | {spread(ratios, lambda v: f'{v:.2f}x')} |")


if __name__ == "__main__":
    main()
