"""Train-step speed of the runner against PyTorch, shape by shape, alternating in one sitting:
for each round, each shape and each image size, `runner bench --set ...` (both CPU backends)
then bench/torch_step.py for the same layers. Prints median img/s, min-max, the runner/PyTorch
ratios of the medians and of each round's pair (the host's speed swings over minutes on shared
machines; a pair, measured back to back, shares its state), and the peak RSS of each runner
process. For the NNs it also times PyTorch's step's matrix products alone (bench/torch_step.py
--ceiling) and prints the ceiling: how much faster than PyTorch's step any step could be that
multiplies at PyTorch's speed.
Called by bench/speed.sh.
"""
import argparse
import json
import platform
import re
import statistics
import subprocess
import tempfile

# (label, runner --set keys, bench/torch_step.py arguments)
SHAPES = [
    ("seed CNN", ["model=\"cnn\""], []),
    ("conv_channels = [64, 128]", ["conv_channels=[64,128]"], ["--conv-channels", "64,128"]),
    ("[32, 64] k5 same batch norm", ["kernel_size=5", "padding=\"same\"", "batch_norm=true"],
     ["--kernel-size", "5", "--padding", "same", "--batch-norm"]),
    ("[32, 64, 128] k3 same batch norm dropout 0.25",
     ["conv_channels=[32,64,128]", "padding=\"same\"", "batch_norm=true", "dropout=0.25"],
     ["--conv-channels", "32,64,128", "--padding", "same", "--batch-norm", "--dropout", "0.25"]),
    ("NN 128", ["model=\"nn\""], ["--model", "nn"]),
    ("NN [512, 256]", ["model=\"nn\"", "hidden=[512,256]"], ["--model", "nn", "--hidden", "512,256"]),
]
IMAGES = {"mnist": ("MNIST 1x28x28", []), "cifar": ("CIFAR-10 3x32x32", ["dataset=\"cifar10\""])}


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def runner(binary, backends, sets, steps):
    """{backend: train-step img/s} and the process's peak RSS in MB."""
    cmd = [binary, "bench", "--backends", ",".join(backends), "--steps", str(steps), "--repeats", "1",
           "--data-dir", "/nonexistent"]
    for s in sets:
        cmd += ["--set", s]
    with tempfile.NamedTemporaryFile("r") as t:
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name, *cmd], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stderr}")
        rss = int(t.read().split()[-1]) / 1024
    rates = {}
    for backend in backends:
        m = re.search(rf"^\|\s*{backend}: train step, [^|]*\|\s*([0-9.]+)", out.stdout, re.M)
        rates[backend] = float(m.group(1))
    return rates, rss


def pytorch(python, image, args, steps):
    """PyTorch's train-step img/s, and for an NN its step's products alone (else None)."""
    ceiling = ["--ceiling"] if "nn" in args else []
    cmd = [python, "bench/torch_step.py", "--shape", image, "--steps", str(steps), "--json", *args, *ceiling]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["img/s"], result.get("products img/s")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20, help="timed train steps per measurement")
    p.add_argument("--nn-steps", type=int, default=200,
                   help="timed train steps per measurement for the NNs, whose steps take about a millisecond")
    p.add_argument("--backends", default="cpu,ndarray")
    p.add_argument("--images", default="mnist,cifar")
    p.add_argument("--shapes", help="labels' first words to keep, comma-separated (e.g. 'seed,NN')")
    p.add_argument("--binary", default="target/release/runner")
    p.add_argument("--python", default=".venv/bin/python")
    a = p.parse_args()
    backends = a.backends.split(",")
    shapes = [s for s in SHAPES if not a.shapes or any(s[0].startswith(w) for w in a.shapes.split(","))]
    cases = [(s, i) for s in shapes for i in a.images.split(",")]
    samples, ceilings = {}, {}
    for r in range(a.rounds):
        for (label, sets, args), image in cases:
            steps = a.nn_steps if "nn" in args else a.steps
            rates, rss = runner(a.binary, backends, sets + IMAGES[image][1], steps)
            torch, products = pytorch(a.python, image, args, steps)
            samples.setdefault((label, image), []).append((rates, torch, rss))
            shown = "  ".join(f"{b} {v:.0f}" for b, v in rates.items())
            if products:
                ceilings.setdefault((label, image), []).append((products, torch))
                shown += f"  pytorch's products alone {products:.0f}"
            print(f"round {r + 1} {label}, {image}: runner {shown}  pytorch {torch:.0f} img/s  rss {rss:.0f} MB",
                  flush=True)
    med = statistics.median
    print(f"\ntrain step (forward, backward, SGD), batch 100, {a.steps} timed steps per measurement "
          f"({a.nn_steps} for the NNs), "
          f"{a.rounds} rounds alternating; {cpu_model()}, the runner and PyTorch on the same threads. "
          "img/s: median (min-max); ratio: of the medians, then the median (min-max) of each round's own "
          "ratio, the runner's rate over PyTorch's measured right after it: the host's slow swings cancel in those\n")
    head = " | ".join(f"{b} img/s | {b} / PyTorch" for b in backends)
    print(f"| shape | images | PyTorch img/s | {head} | runner peak RSS MB |")
    print("|---|---|---" + "|---|---" * len(backends) + "|---|")
    for (label, image), rows in samples.items():
        torch = [t for _, t, _ in rows]
        cells = []
        for b in backends:
            ours = [r[b] for r, _, _ in rows]
            paired = [o / t for o, t in zip(ours, torch)]
            cells += [f"{med(ours):.0f} ({min(ours):.0f}-{max(ours):.0f})",
                      f"{med(ours) / med(torch):.2f}x; {med(paired):.2f}x ({min(paired):.2f}-{max(paired):.2f})"]
        print(f"| {label} | {IMAGES[image][0]} | {med(torch):.0f} ({min(torch):.0f}-{max(torch):.0f}) | "
              f"{' | '.join(cells)} | {max(r for _, _, r in rows):.0f} |")

    if ceilings:
        print("\nceiling: PyTorch's step's matrix products alone (its BLAS, the same threads, timed after each step) "
              "over its whole step. No step that multiplies at that speed is faster than PyTorch's by more.\n")
        print("| shape | images | PyTorch step img/s | its products alone img/s | ceiling |")
        print("|---|---|---|---|---|")
        for (label, image), rows in ceilings.items():
            products, torch = [p for p, _ in rows], [t for _, t in rows]
            print(f"| {label} | {IMAGES[image][0]} | {med(torch):.0f} | {med(products):.0f} | "
                  f"{med(products) / med(torch):.2f}x |")


if __name__ == "__main__":
    main()
