"""Loads a `runner export` file into PyTorch and prints its test accuracy.

    runner export runs/<run>/trials/<trial>     # writes model.safetensors and model.py there
    python scripts/check_export.py runs/<run>/trials/<trial>/model.safetensors --data data/mnist
    python scripts/check_export.py .../model.safetensors --folder PATH   # a trial of dataset = "folder"

The module is `Model` of the model.py beside the weights (any architecture); without one (an
export of an older runner), the reference script's NNModel or CNNModel, chosen with --model.

The accuracy must match `runner eval` on the same trial (same data, same normalization, and the
same images: the first `limit_test` test images when the trial's spec.toml, beside the weights,
limits them; `--limit-test` overrides it, 0 for all).
"""
import argparse
import itertools
import os
import sys
import tomllib

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
from reference import CNNModel, NNModel, load  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("weights")
    parser.add_argument("--model", choices=["nn", "cnn"], help="without model.py: the reference model to load into")
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--folder", help="an image folder (train/<class>/*, test/<class>/*): its test images, "
                        "read as the runner reads them (needs Pillow; the same pixels unless image_size resized them)")
    parser.add_argument("--limit-test", type=int, default=None,
                        help="evaluate the first N test images (default: the trial's limit_test; 0: all)")
    args = parser.parse_args()
    limit = args.limit_test
    exported = export_metadata(args.weights)
    if limit is None:
        spec = os.path.join(os.path.dirname(os.path.abspath(args.weights)), "spec.toml")
        if os.path.exists(spec):
            limit = tomllib.load(open(spec, "rb")).get("limit_test", 0)
        else:
            limit = int(exported.get("limit_test", 0))
    # `runner export --out X.safetensors` writes X.py beside it (model.py for model.safetensors).
    module = os.path.splitext(os.path.abspath(args.weights))[0] + ".py"
    if os.path.exists(module):
        import importlib.util
        loader = importlib.util.spec_from_file_location("exported_model", module)
        exported = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(exported)
        model = exported.Model()
    elif args.model:
        model = NNModel() if args.model == "nn" else CNNModel()
    else:
        parser.error(f"no {os.path.basename(module)} beside {args.weights}: say --model nn or --model cnn")
    model.load_state_dict(load_file(args.weights), strict=True)
    model.eval()
    test = folder_test(args.folder, os.path.dirname(os.path.abspath(args.weights)), exported) if args.folder else load(args.data, "test")
    with torch.no_grad():
        x, y = test.tensors
        if limit:
            x, y = x[:limit], y[:limit]
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(y), 1000))
    print(f"PyTorch {type(model).__name__} with {args.weights}: test accuracy {100 * correct / len(y):.2f}%")


def export_metadata(weights):
    """What `runner export` wrote into the file's __metadata__ (classes, image shape, mean, std),
    decoded from JSON; empty for an export of an older runner."""
    import json

    from safetensors import safe_open

    with safe_open(weights, "pt") as f:
        raw = f.metadata() or {}
    out = {}
    for key, value in raw.items():
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def folder_test(folder, trial, exported):
    """The folder's test images in the runner's order (per class sorted as ImageFolder walks them,
    then one class in turn), converted and normalized as the export's metadata says (or, for an
    older export, the trial's images.json and spec.toml)."""
    import json

    from PIL import Image
    from torch.utils.data import TensorDataset

    if "classes" in exported:
        channels, height, width = exported["image_shape"]
        images = {"classes": exported["classes"]}
        spec = {"mean": exported["mean"], "std": exported["std"]}
    else:
        images = json.load(open(os.path.join(trial, "images.json")))
        spec = tomllib.load(open(os.path.join(trial, "spec.toml"), "rb"))
        channels, height, width = images["channels"], images["height"], images["width"]
    mean = torch.tensor(spec.get("mean", [0.5])).view(-1, 1, 1)
    std = torch.tensor(spec.get("std", [0.5])).view(-1, 1, 1)
    extensions = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
    per_class = []
    for label, name in enumerate(images["classes"]):
        root = os.path.join(folder, "test", name)
        files = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            # Sorted as the runner sorts: by folder (component by component), then file name.
            parts = tuple(p for p in os.path.relpath(dirpath, root).split(os.sep) if p != ".")
            files += [(parts, f) for f in filenames if not f.startswith(".") and f.lower().endswith(extensions)]
        per_class.append([(os.path.join(root, *d, f), label) for d, f in sorted(files)])
    order = [item for round_ in itertools.zip_longest(*per_class) for item in round_ if item]
    xs = []
    for path, _ in order:
        image = Image.open(path).convert("L" if channels == 1 else "RGB")
        if image.size != (width, height):
            image = image.resize((width, height), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(image, dtype=np.float32).copy()) / 255.0
        x = x.view(height, width, -1).permute(2, 0, 1)
        xs.append((x - mean) / std)
    return TensorDataset(torch.stack(xs), torch.tensor([label for _, label in order]))


if __name__ == "__main__":
    main()
