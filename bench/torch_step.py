"""PyTorch's train step (forward, backward, SGD; batch 100, random images) for an architecture, timed
as `runner bench --set ...` times the runner's: prints the median img/s of the timed steps.

    python bench/torch_step.py --conv-channels 64,128
    python bench/torch_step.py --kernel-size 5 --padding same --batch-norm --shape cifar
    python bench/torch_step.py --model nn --hidden 512,256
    python bench/torch_step.py --model nn --hidden 512,256 --ceiling
    runner bench --backends cpu --set 'conv_channels=[64,128]'      # the same, in the runner

The layers are the runner's (src/model): per conv a block Conv -> [BatchNorm] -> ReLU -> MaxPool2,
then per hidden size Linear -> [BatchNorm] -> ReLU -> [Dropout], then Linear(.., 10).
With --ceiling (NN only) each timed step is followed by the step's matrix products alone, as
PyTorch runs them (its BLAS, the same threads): forward x W^T per layer, each layer's weight
gradient, every input gradient but the first layer's. It also prints their img/s: no step that
multiplies at PyTorch's speed beats PyTorch's by more than that over the step's.
Run both in one sitting on an otherwise idle machine, with the same thread count
(--threads, default: the cores, as the runner uses). bench/speed.sh does both, alternating.
"""
import argparse
import json
import os
import statistics
import time

import torch
from torch import nn

SHAPES = {"mnist": (1, 28), "cifar": (3, 32)}


def dense(inputs, hidden, batch_norm, dropout):
    layers = []
    for width in hidden:
        layers.append(nn.Linear(inputs, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        inputs = width
    return layers + [nn.Linear(inputs, 10)]


def model(kind, channels, side, conv_channels, kernel, padding, batch_norm, hidden, dropout):
    layers, c, h = [nn.Flatten()] if kind == "nn" else [], channels, side
    pad = (kernel - 1) // 2 if padding == "same" else 0
    for out in conv_channels if kind == "cnn" else []:
        layers.append(nn.Conv2d(c, out, kernel, padding=pad))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        c, h = out, (h + 2 * pad - kernel + 1) // 2
    if kind == "cnn":
        layers.append(nn.Flatten())
    return nn.Sequential(*layers, *dense(c * h * h, hidden, batch_norm, dropout))


def step_products(net, images):
    """The NN step's matrix products as autograd runs them, each `(a, b, out)` for `mm(a, b, out=out)`."""
    layers = [m for m in net if isinstance(m, nn.Linear)]
    products, x = [], images.flatten(1)
    for i, layer in enumerate(layers):
        width = layer.weight.shape[0]
        dy = torch.rand(x.shape[0], width)
        products.append((x, layer.weight.t(), torch.empty(x.shape[0], width)))
        products.append((dy.t(), x, torch.empty(width, x.shape[1])))
        if i > 0:
            products.append((dy, layer.weight.detach(), torch.empty_like(x)))
        x = torch.rand(x.shape[0], width)
    return products


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["nn", "cnn"], default="cnn")
    parser.add_argument("--shape", choices=list(SHAPES), default="mnist")
    parser.add_argument("--conv-channels", default="32,64")
    parser.add_argument("--kernel-size", type=int, default=3)
    parser.add_argument("--padding", choices=["0", "same"], default="0")
    parser.add_argument("--batch-norm", action="store_true")
    parser.add_argument("--hidden", default="128")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--ceiling", action="store_true", help="also time the NN step's products alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    channels, side = SHAPES[args.shape]
    net = model(args.model, channels, side, [int(c) for c in args.conv_channels.split(",")], args.kernel_size,
                args.padding, args.batch_norm, [int(h) for h in args.hidden.split(",") if h], args.dropout)
    net.train()
    optim = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.rand(100, channels, side, side)
    labels = torch.arange(100) % 10
    if args.ceiling and args.model != "nn":
        parser.error("--ceiling times the NN's dense layers: use it with --model nn")
    products = step_products(net, images) if args.ceiling else []
    rates, product_rates = [], []
    for step in range(args.steps + 2):
        start = time.perf_counter()
        optim.zero_grad()
        loss_fn(net(images), labels).backward()
        optim.step()
        middle = time.perf_counter()
        with torch.no_grad():
            for a, b, out in products:
                torch.mm(a, b, out=out)
        end = time.perf_counter()
        if step >= 2:
            rates.append(100 / (middle - start))
            product_rates.append(100 / (end - middle))
    median = statistics.median(rates)
    result = {"img/s": median, "steps": len(rates), "threads": args.threads}
    if args.ceiling:
        result["products img/s"] = statistics.median(product_rates)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"pytorch train step: {median:.0f} img/s (median of {len(rates)}, {args.threads} threads)")
        if args.ceiling:
            print(f"its matrix products alone: {result['products img/s']:.0f} img/s")


if __name__ == "__main__":
    main()
