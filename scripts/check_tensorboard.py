#!/usr/bin/env python3
"""Checks a run folder's TensorBoard files with the real `tensorboard` package.

    python3 scripts/check_tensorboard.py runs/<run>

For every trial: each metrics.csv value is the matching scalar at step = epoch (loss/train,
loss/test, accuracy/train, accuracy/test, lr, and loss/val, accuracy/val with a split), its
HParams session start holds model, dataset and the swept fields, and a copy of its event file cut
in the middle of the last record still loads (TensorBoard skips the torn record). The run's root
holds the HParams experiment listing the swept fields. Exits non-zero on the first mismatch.
"""
import csv
import os
import shutil
import sys
import tempfile

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.plugins.hparams import plugin_data_pb2

TAGS = {"train_loss": "loss/train", "test_loss": "loss/test", "train_acc": "accuracy/train",
        "test_acc": "accuracy/test", "lr": "lr", "val_loss": "loss/val", "val_acc": "accuracy/val"}


def load(path):
    acc = ea.EventAccumulator(path, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    return acc


def hparams(acc, tag):
    content = acc.PluginTagToContent("hparams")[tag]
    data = plugin_data_pb2.HParamsPluginData()
    data.ParseFromString(content)
    return data


def main(run):
    root = load(os.path.join(run, "tb"))
    experiment = hparams(root, "_hparams_/experiment").experiment
    names = [info.name for info in experiment.hparam_infos]
    assert "model" in names and "dataset" in names, names
    trials_dir = os.path.join(run, "trials")
    checked = 0
    for trial in sorted(os.listdir(trials_dir)):
        folder = os.path.join(trials_dir, trial)
        acc = load(os.path.join(folder, "tb"))
        scalars = set(acc.Tags()["scalars"])
        with open(os.path.join(folder, "metrics.csv")) as f:
            rows = list(csv.DictReader(f))
        for column, tag in TAGS.items():
            if not rows or rows[0].get(column, "") == "":
                continue
            events = {e.step: e.value for e in acc.Scalars(tag)}
            assert sorted(events) == [int(r["epoch"]) for r in rows], (trial, tag, sorted(events))
            for r in rows:
                want, got = float(r[column]), events[int(r["epoch"])]
                assert abs(want - got) <= 1e-6 * max(1.0, abs(want)), (trial, tag, r["epoch"], want, got)
                checked += 1
        start = hparams(acc, "_hparams_/session_start_info").session_start_info
        for key in names:
            assert key in start.hparams, (trial, key, list(start.hparams))
        assert {"accuracy/test", "loss/train"} <= scalars, scalars
        # A reader meets a torn last record (a writer killed mid-write): it skips it.
        event_file = os.path.join(folder, "tb", sorted(os.listdir(os.path.join(folder, "tb")))[0])
        with tempfile.TemporaryDirectory() as tmp:
            cut = os.path.join(tmp, os.path.basename(event_file))
            data = open(event_file, "rb").read()
            open(cut, "wb").write(data[:-7])
            steps = [e.step for e in load(tmp).Scalars("accuracy/test")]
            assert steps == [int(r["epoch"]) for r in rows][: len(steps)] and len(steps) >= len(rows) - 1, steps
    print(f"tensorboard check: {checked} scalars match metrics.csv; HParams experiment with {names}; torn records skipped")


if __name__ == "__main__":
    main(sys.argv[1])
