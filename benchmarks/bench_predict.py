"""Throughput of the whole prediction stage against the bare model forward, same run.

The bare forward runs the model on batches that were loaded and transformed beforehand (the
lower bound on time); the whole stage is `predict()` as the CLI runs it: data loading and
transforms, the GMACs count, chunk files, gathering and the final atomic save. A ratio near 1
means the stage adds little on top of the model (data loading is not the bottleneck).

    python benchmarks/bench_predict.py [--model cifar_resnet20] [--dataset cifar10-test-jpeg]
        [--n 2000] [--batch-size 256] [--repeats 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import default_collate


def main(argv=None) -> None:
    from timm.data import create_transform, resolve_data_config

    from littlebig_utils.run.datasets import open_dataset
    from littlebig_utils.run import create_model, default_device
    from littlebig_utils.run.predict import predict

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="cifar_resnet20")
    ap.add_argument("--dataset", default="cifar10-test-jpeg")
    ap.add_argument("--data-root")
    ap.add_argument("--n", type=int, default=2000, help="images (first N of the dataset)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device")
    args = ap.parse_args(argv)

    device = torch.device(args.device) if args.device else default_device()
    model = create_model(args.model, pretrained=True).to(device)
    tf = create_transform(**resolve_data_config(model=model), is_training=False)
    ds = open_dataset(args.dataset, tf, data_root=args.data_root, limit=args.n)
    n = len(ds)

    # the same batches, loaded and transformed once, before any timing
    batches = []
    for s in range(0, n, args.batch_size):
        idx = list(range(s, min(s + args.batch_size, n)))
        items = ds.__getitems__(idx) if hasattr(ds, "__getitems__") else [ds[i] for i in idx]
        batches.append(default_collate(items)[0].to(device))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def bare() -> float:
        sync()
        t = time.perf_counter()
        with torch.inference_mode():
            for x in batches:
                model(x)
        sync()
        return time.perf_counter() - t

    def stage(tmp: Path, k: int) -> float:
        t = time.perf_counter()
        predict(model, ds, batch_size=args.batch_size, device=device, out=tmp / f"p{k}.npz",
                progress=False, name=args.model)
        sync()
        return time.perf_counter() - t

    bare()  # warm-up (allocator, kernel selection)
    t_bare, t_stage = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):  # interleaved, so that load changes hit both alike
            t_bare.append(bare())
            t_stage.append(stage(Path(tmp), k))
    b, s = statistics.median(t_bare), statistics.median(t_stage)
    print(f"{args.model} on {args.dataset}: {n} images, batch {args.batch_size}, {device}, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats}")
    print(f"  bare forward (pre-loaded batches): {n / b:10.1f} images/s  ({b:.3f} s)")
    print(f"  whole predict stage              : {n / s:10.1f} images/s  ({s:.3f} s)")
    print(f"  ratio stage / bare throughput    : {b / s:10.3f}")


if __name__ == "__main__":
    main()
