"""How much of the oracle MACs saving a guaranteed threshold keeps: Clopper-Pearson vs WSR.

    python benchmarks/bench_guarantee.py [--draws 200] [--pairs 4] [--n-calib 5000]

Issue 13's goal: with 5,000 calibration images drawn with replacement from the 50,000 ImageNet
val images (the population), max_loss 0.5 points, delta 0.1, the guaranteed threshold keeps at
least 90 % of the oracle MACs saving while the violation rate (population risk > epsilon) stays
at most delta. Pairs: the genuine reference pairs whose little model alone loses more than
epsilon (else every bound certifies T = 0 and the question is empty), ranked by their
in-sample no-loss MACs reduction. The oracle T is the cheapest whose population risk is at
most epsilon. Prints one line per pair and method and a summary line per method. Times depend
on the machine and its load; they are printed, never asserted.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from littlebig_utils import load
from littlebig_utils.core.experiments import eligible_pairs, guarantee_study


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--n-calib", type=int, default=5000)
    ap.add_argument("--epsilon", type=float, default=0.005, help="max loss, a fraction")
    ap.add_argument("--delta", type=float, default=0.1)
    args = ap.parse_args(argv)
    records = load("imagenet-val")
    gmacs = {k: p.model["gmacs"] for k, p in records.items()}
    rows = []
    for _, pr in eligible_pairs(records, gmacs, args.epsilon, args.pairs).iterrows():
        lp, bp = records[pr["little"]], records[pr["big"]]
        t0 = time.perf_counter()
        df = guarantee_study(lp.conf, lp.correct, bp.correct, gmacs[pr["little"]],
                             gmacs[pr["big"]], args.epsilon, args.delta, args.n_calib,
                             args.draws)
        secs = time.perf_counter() - t0
        for method, g in df.groupby("method"):
            v = g["violated"].mean()
            rows.append((method, g["kept"].mean(), v))
            print(f"{pr['little']} -> {pr['big']} [{method}]: kept {100 * g['kept'].mean():.1f} % "
                  f"of the oracle saving ({100 * g['oracle_saving'].iloc[0]:.1f} %), violation "
                  f"rate {100 * v:.1f} % (se {100 * np.sqrt(v * (1 - v) / len(g)):.1f}), "
                  f"{args.draws} draws, {secs:.0f} s for both methods")
    for method in sorted({r[0] for r in rows}):
        kept = [r[1] for r in rows if r[0] == method]
        viol = [r[2] for r in rows if r[0] == method]
        print(f"{method}: kept share of oracle MACs saving {100 * min(kept):.1f}-"
              f"{100 * max(kept):.1f} % over {len(kept)} pairs, max violation rate "
              f"{100 * max(viol):.1f} % (delta {100 * args.delta:.0f} %)")


if __name__ == "__main__":
    main()
