"""PyTorch's train step (forward, backward, SGD; batch 100, random images) for an architecture, timed
as `runner bench --set ...` times the runner's: prints the median img/s of the timed steps.

    python bench/torch_step.py --conv-channels 64,128
    python bench/torch_step.py --kernel-size 5 --padding same --batch-norm
    runner bench --backends cpu --set 'conv_channels=[64,128]'      # the same, in the runner

Run both in one sitting on an otherwise idle machine, with the same thread count
(--threads, default: the cores, as the runner uses).
"""
import argparse
import os
import statistics
import time

import torch
from torch import nn


def cnn(channels, side, conv_channels, kernel, padding, batch_norm, hidden):
    layers, c, h = [], channels, side
    pad = (kernel - 1) // 2 if padding == "same" else 0
    for out in conv_channels:
        layers.append(nn.Conv2d(c, out, kernel, padding=pad))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        c, h = out, (h + 2 * pad - kernel + 1) // 2
    layers.append(nn.Flatten())
    inputs = c * h * h
    for width in hidden:
        layers.append(nn.Linear(inputs, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        inputs = width
    layers.append(nn.Linear(inputs, 10))
    return nn.Sequential(*layers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--conv-channels", default="32,64")
    parser.add_argument("--kernel-size", type=int, default=3)
    parser.add_argument("--padding", choices=["0", "same"], default="0")
    parser.add_argument("--batch-norm", action="store_true")
    parser.add_argument("--hidden", default="128")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = cnn(1, 28, [int(c) for c in args.conv_channels.split(",")], args.kernel_size, args.padding,
                args.batch_norm, [int(h) for h in args.hidden.split(",") if h])
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.rand(100, 1, 28, 28)
    labels = torch.arange(100) % 10
    rates = []
    for step in range(args.steps + 2):
        start = time.perf_counter()
        optim.zero_grad()
        loss_fn(model(images), labels).backward()
        optim.step()
        if step >= 2:
            rates.append(100 / (time.perf_counter() - start))
    print(f"pytorch train step: {statistics.median(rates):.0f} img/s (median of {len(rates)}, {args.threads} threads)")


if __name__ == "__main__":
    main()
