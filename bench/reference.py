"""The seed experiment in PyTorch, with timing: the reference the runner is compared with.

MNIST normalized with mean 0.5 / std 0.5, batch 100, plain SGD lr 0.01, cross-entropy, shuffled
DataLoader, evaluation on the test set after training. Prints one JSON line.

    python bench/reference.py --model cnn --epochs 5 --data ../shared/data/mnist
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class NNModel(nn.Module):
    def __init__(self, inputs=784):
        super().__init__()
        self.fc1 = nn.Linear(inputs, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class CNNModel(nn.Module):
    def __init__(self, channels=1, side=28):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(2)
        flat = ((side - 2) // 2 - 2) // 2
        self.fc1 = nn.Linear(64 * flat * flat, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8)


def load(root, split):
    prefix = "train" if split == "train" else "t10k"
    find = lambda n: next(p for p in (os.path.join(root, n + ".gz"), os.path.join(root, n)) if os.path.exists(p))
    images = idx(find(f"{prefix}-images-idx3-ubyte"))
    labels = idx(find(f"{prefix}-labels-idx1-ubyte"))
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - 0.5) / 0.5
    return TensorDataset(x, torch.from_numpy(labels.astype(np.int64)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["nn", "cnn"], default="cnn")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    start = time.perf_counter()
    train = DataLoader(load(args.data, "train"), batch_size=100, shuffle=True)
    test = DataLoader(load(args.data, "test"), batch_size=100)
    model = NNModel() if args.model == "nn" else CNNModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()
    train_seconds = 0.0
    for _ in range(args.epochs):
        epoch_start = time.perf_counter()
        model.train()
        for x, y in train:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        train_seconds += time.perf_counter() - epoch_start
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in test:
            correct += (model(x).argmax(1) == y).sum().item()
    print(json.dumps({
        "model": args.model,
        "epochs": args.epochs,
        "seconds": time.perf_counter() - start,
        "train_images_per_second": args.epochs * len(train.dataset) / train_seconds,
        "test_acc": correct / len(test.dataset),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
