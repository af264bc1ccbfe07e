#!/usr/bin/env python3
"""Counts the seed models' parameters and MACs with PyTorch and fvcore, for comparison with the
`params` and `macs` columns of `runner SPEC --dry-run` (and summary.csv).

    python3 scripts/check_costs.py      # prints: model dataset params macs, one line each

The models are the reference PyTorch script's (README: "The reference experiment"); fvcore's
FlopCountAnalysis counts one per multiply-accumulate of conv and linear layers, for one image.
Needs torch and fvcore (pip).
"""
import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn


def nn_model(channels, side):
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn_model(channels, side):
    flat = ((side - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * flat * flat, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def main():
    for dataset, (channels, side) in {"mnist": (1, 28), "cifar10": (3, 32)}.items():
        for name, build in (("nn", nn_model), ("cnn", cnn_model)):
            model = build(channels, side).eval()
            params = sum(p.numel() for p in model.parameters())
            flops = FlopCountAnalysis(model, torch.zeros(1, channels, side, side))
            flops.unsupported_ops_warnings(False)
            print(name, dataset, params, flops.total())


if __name__ == "__main__":
    main()
