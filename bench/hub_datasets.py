"""The `datasets` side of bench/hub.sh: load a Parquet image set as users do
(`load_dataset("parquet", ...)`, a fresh cache each round) and turn every image into a numpy
array. Prints one JSON object of seconds (medians)."""
import json
import statistics
import sys
import tempfile
import time

import numpy as np
from datasets import load_dataset


def once(folder: str) -> float:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        ds = load_dataset(
            "parquet",
            data_files={"train": f"{folder}/train-*.parquet", "test": f"{folder}/test-*.parquet"},
            cache_dir=cache,
        )
        for split in ("train", "test"):
            images = np.stack([np.asarray(row["img"]) for row in ds[split]])
            labels = np.asarray(ds[split]["label"])
            assert images.shape[0] == labels.shape[0]
    return time.perf_counter() - started


def main() -> None:
    folder = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    times = [once(folder) for _ in range(rounds)]
    print(json.dumps({"datasets_load_and_numpy_s": statistics.median(times), "rounds": times}))


if __name__ == "__main__":
    main()
