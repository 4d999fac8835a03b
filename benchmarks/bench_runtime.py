"""Throughput and latency of the cascade executor against the big model alone (Table A.4).

Every ratio is formed from runs timed in this same process, interleaved and repeated (medians
printed): the little model alone, the big model alone and the cascade in each mode.

    python benchmarks/bench_runtime.py                 # CPU, book defaults (a few minutes)
    python benchmarks/bench_runtime.py --smoke         # under a minute
    python benchmarks/bench_runtime.py --device cuda --n-imagenet 512 --batch-imagenet 32
    python benchmarks/bench_runtime.py --settings 'efficientnet_b1->efficientnet_b3a'  # quote: '>'
"""
from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd
import torch

from littlebig_utils import _io as paths
from littlebig_utils.run import default_device, runtime

# the pairs of notebooks/tabA4_throughput_latency.ipynb (experiment configuration, not library)
SETTINGS = ("cifar_resnet20->cifar_resnet56",
            "mobilenetv3_large_100->gluon_senet154",
            "efficientnet_b1->efficientnet_b3a")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default=str(default_device()))
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS))
    ap.add_argument("--n-cifar", type=int, default=2048)
    ap.add_argument("--n-imagenet", type=int, default=16)
    ap.add_argument("--batch-cifar", type=int, default=128)
    ap.add_argument("--batch-imagenet", type=int, default=4)
    ap.add_argument("--online-cifar", type=int, default=256)
    ap.add_argument("--online-imagenet", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cifar-sweep-n", type=int, default=None,
                    help="test images the CIFAR threshold is chosen on (default all 10,000)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: on a shared CPU, OpenMP threads that wait "
                         "for each other make timings erratic; 0 keeps torch's default)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    ap.add_argument("--out", default=None,
                    help="CSV of the summary (default results/bench_runtime/summary_DEVICE.csv)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.n_cifar, args.n_imagenet, args.online_cifar, args.online_imagenet = 256, 4, 32, 2
        args.batch_imagenet, args.repeats, args.cifar_sweep_n = 2, 1, 1000
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        summary, raw, _ = runtime.measure_settings(
            args.settings, folder, device=args.device,
            n_samples=dict(cifar=args.n_cifar, imagenet=args.n_imagenet),
            batch_size=dict(cifar=args.batch_cifar, imagenet=args.batch_imagenet),
            n_online=dict(cifar=args.online_cifar, imagenet=args.online_imagenet),
            repeats=args.repeats, cifar_sweep_n=args.cifar_sweep_n)
    out = args.out or paths.results_dir("bench_runtime") / f"summary_{args.device}.csv"
    summary.to_csv(out, index=False)
    raw.to_csv(str(out).replace("summary_", "raw_"), index=False)
    cols = ["setting", "mode", "n", "batch_size", "frac_big", "throughput", "big_throughput",
            "mean_latency_ms", "p95_latency_ms", "speedup_macs", "speedup_time_predicted",
            "speedup_measured", "overhead", "overhead_no_load", "speedup_cpu", "overhead_cpu"]
    with pd.option_context("display.width", 250, "display.max_columns", 30,
                           "display.float_format", "{:.3f}".format):
        print(summary[cols].to_string(index=False))
    print(f"medians of {args.repeats} interleaved repeats; total {time.perf_counter() - t0:.0f} s; "
          f"written {out}")


if __name__ == "__main__":
    main()
