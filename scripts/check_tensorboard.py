#!/usr/bin/env python3
"""Checks a run folder's TensorBoard files with the real `tensorboard` package.

    python3 scripts/check_tensorboard.py runs/<run>
    python3 scripts/check_tensorboard.py --api runs/

A run: for every trial, each metrics.csv value is the matching scalar at step = epoch (loss/train,
loss/test, accuracy/train, accuracy/test, lr, and loss/val, accuracy/val with a split), its
HParams session start holds model, dataset, seed and the swept and searched keys, and a copy of
its event file cut in the middle of the last record still loads (TensorBoard skips the torn
record).

--api: starts a TensorBoard server on the folder of runs and asks its HParams plugin what the
HParams tab shows (POST /data/plugin/hparams/experiment and .../session_groups): every key swept
or searched in any run's spec.toml must be listed, and every trial of every run must be a session
with a value for each of them (momentum only for sgd). Exits non-zero on the first mismatch.
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request

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


def swept_keys(run):
    """model, dataset, seed and the keys the run's spec.toml sweeps or searches."""
    with open(os.path.join(run, "spec.toml"), "rb") as f:
        spec = tomllib.load(f)
    keys = ["model", "dataset", "seed"] + list(spec.get("sweep", {})) + list(spec.get("search", {}).get("space", {}))
    return list(dict.fromkeys(keys))


def main(run):
    names = swept_keys(run)
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
            applies = key != "momentum" or start.hparams["optimizer"].string_value == "sgd"
            assert (key in start.hparams) == applies, (trial, key, list(start.hparams))
        assert {"accuracy/test", "loss/train"} <= scalars, scalars
        # A reader meets a torn last record (a writer killed mid-write): it skips it.
        event_file = os.path.join(folder, "tb", sorted(os.listdir(os.path.join(folder, "tb")))[0])
        with tempfile.TemporaryDirectory() as tmp:
            cut = os.path.join(tmp, os.path.basename(event_file))
            data = open(event_file, "rb").read()
            open(cut, "wb").write(data[:-7])
            steps = [e.step for e in load(tmp).Scalars("accuracy/test")]
            assert steps == [int(r["epoch"]) for r in rows][: len(steps)] and len(steps) >= len(rows) - 1, steps
    print(f"tensorboard check: {checked} scalars match metrics.csv; HParams sessions with {names}; torn records skipped")


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def api(logdir):
    runs = sorted(d for d in os.listdir(logdir) if os.path.isfile(os.path.join(logdir, d, "spec.toml")))
    wanted = {key for run in runs for key in swept_keys(os.path.join(logdir, run))}
    trials = {f"{run}/trials/{t}/tb" for run in runs for t in os.listdir(os.path.join(logdir, run, "trials"))}
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", "127.0.0.1",
                               "--port", "0", "--load_fast=false"], stderr=subprocess.PIPE, text=True)
    try:
        url, said = None, []
        deadline = time.time() + 120
        while url is None and time.time() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            said.append(line)
            url = (re.search(r"http://127\.0\.0\.1:\d+", line) or [None])[0]
        assert url, "tensorboard did not start: " + "".join(said)
        experiment = post(url + "/data/plugin/hparams/experiment", {"experimentName": ""})
        listed = {info["name"] for info in experiment["hparamInfos"]}
        assert wanted <= listed, f"the HParams experiment lacks {sorted(wanted - listed)}"
        statuses = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
        groups = post(url + "/data/plugin/hparams/session_groups",
                      {"experimentName": "", "allowedStatuses": statuses, "colParams": [], "startIndex": 0, "sliceSize": 10000})
        sessions = {s["name"]: g["hparams"] for g in groups["sessionGroups"] for s in g["sessions"]}
        assert set(sessions) == trials, f"sessions {sorted(sessions)} are not the trials {sorted(trials)}"
        for name, values in sessions.items():
            for key in wanted:
                applies = key != "momentum" or values["optimizer"] == "sgd"
                assert (key in values) == applies, (name, key, values)
        print(f"tensorboard API: {len(runs)} runs, {len(sessions)} sessions, every one with {sorted(wanted)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    if sys.argv[1] == "--api":
        api(sys.argv[2])
    else:
        main(sys.argv[1])
