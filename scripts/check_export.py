"""Loads a `runner export` file into PyTorch and prints its test accuracy.

    runner export runs/<run>/trials/<trial>     # writes model.safetensors and model.py there
    python scripts/check_export.py runs/<run>/trials/<trial>/model.safetensors --data data/mnist

The module is `Model` of the model.py beside the weights (any architecture); without one (an
export of an older runner), the reference script's NNModel or CNNModel, chosen with --model.

The accuracy must match `runner eval` on the same trial (same data, same normalization, and the
same images: the first `limit_test` test images when the trial's spec.toml, beside the weights,
limits them; `--limit-test` overrides it, 0 for all).
"""
import argparse
import os
import sys
import tomllib

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
from reference import CNNModel, NNModel, load  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("weights")
    parser.add_argument("--model", choices=["nn", "cnn"], help="without model.py: the reference model to load into")
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--limit-test", type=int, default=None,
                        help="evaluate the first N test images (default: the trial's limit_test; 0: all)")
    args = parser.parse_args()
    limit = args.limit_test
    if limit is None:
        spec = os.path.join(os.path.dirname(os.path.abspath(args.weights)), "spec.toml")
        limit = tomllib.load(open(spec, "rb")).get("limit_test", 0) if os.path.exists(spec) else 0
    module = os.path.join(os.path.dirname(os.path.abspath(args.weights)), "model.py")
    if os.path.exists(module):
        import importlib.util
        loader = importlib.util.spec_from_file_location("exported_model", module)
        exported = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(exported)
        model = exported.Model()
    elif args.model:
        model = NNModel() if args.model == "nn" else CNNModel()
    else:
        parser.error(f"no model.py beside {args.weights}: say --model nn or --model cnn")
    model.load_state_dict(load_file(args.weights), strict=True)
    model.eval()
    test = load(args.data, "test")
    with torch.no_grad():
        x, y = test.tensors
        if limit:
            x, y = x[:limit], y[:limit]
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(y), 1000))
    print(f"PyTorch {type(model).__name__} with {args.weights}: test accuracy {100 * correct / len(y):.2f}%")


if __name__ == "__main__":
    main()
