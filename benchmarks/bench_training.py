"""`make bench`: training and inference throughput of tmvlib against plain PyTorch/timm loops.

Prints one table, side by side:
- the peer: a plain timm fine-tuning step (fp32, contiguous, default allocator), as a user
  would write it, on the same backbone and batch;
- tmvlib's configurations: channels_last, bf16 autocast, frozen trunk with cached features, and
  the glibc allocator tuning (``tmvlib.runtime``), each alone and combined.
Each row runs in a fresh process, so allocator settings cannot leak between rows.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

ROWS = [
    # label, precision, channels_last, frozen_stages, tuned allocator
    ("peer: timm fine-tune, fp32", "fp32", False, 0, False),
    ("tmvlib: + allocator tuning", "fp32", False, 0, True),
    ("tmvlib: + channels_last", "fp32", True, 0, True),
    ("tmvlib: + bf16 autocast", "bf16", True, 0, True),
    ("tmvlib: frozen 6 stages, cached, fp32", "fp32", True, 6, True),
    ("tmvlib: frozen 6 stages, cached, bf16", "bf16", True, 6, True),
]


def measure(precision: str, channels_last: bool, frozen: int, tuned: bool, batch: int,
            size: int, repeats: int) -> dict:
    import torch

    from tmvlib.models import build_classifier
    from tmvlib.models.throughput import step_throughput
    from tmvlib.runtime import tune_cpu_allocator

    if tuned:
        tune_cpu_allocator()
    torch.manual_seed(0)
    model, info = build_classifier("efficientnet_lite0", frozen_stages=frozen)
    images = torch.randint(0, 256, (batch, 1, size, size), dtype=torch.uint8)
    train = step_throughput(model, info, images, precision, channels_last, cached=frozen > 0,
                            repeats=repeats)
    return {"train images/s": train}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--row", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row is not None:
        _, precision, channels_last, frozen, tuned = ROWS[args.row]
        print(json.dumps(measure(precision, channels_last, frozen, tuned, args.batch, args.size,
                                 args.repeats)))
        return
    import pandas as pd

    from tmvlib.fingerprint import bf16_cpu_fast, compute_report

    print(f"efficientnet_lite0, batch {args.batch}, {args.size}px; {compute_report()}")
    print(f"native bf16 on this CPU: {bf16_cpu_fast()}\n")
    results = []
    for index, (label, *_rest) in enumerate(ROWS):
        out = subprocess.run([sys.executable, __file__, "--row", str(index), "--batch", str(args.batch),
                              "--size", str(args.size), "--repeats", str(args.repeats)],
                             capture_output=True, text=True, check=True)
        results.append({"configuration": label, **json.loads(out.stdout.strip().splitlines()[-1])})
        print(f"  measured: {label}", flush=True)
    table = pd.DataFrame(results).set_index("configuration")
    table["x peer"] = table["train images/s"] / table["train images/s"].iloc[0]
    print("\n" + table.round(2).to_string())


if __name__ == "__main__":
    main()
