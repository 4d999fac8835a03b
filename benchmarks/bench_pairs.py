"""Time the vectorized all-pairs table against a straightforward per-threshold loop.

    python benchmarks/bench_pairs.py [--loop-thresholds 300] [--synthetic-models 63]

1. Real data: the 14 reference models on ImageNet-1k val (90 pairs with the little model
   strictly cheaper: two Inception-v3 files cost the same; every distinct threshold of each
   little model, about 50,000 per pair). `pairs_table` (the function the book and
   `littlebig pairs` use: one sort per little model, one cumulative-sum matrix for all its big
   models, evaluated at the candidate cuts only) is checked against the per-pair reference of
   the tests (a full `sweep_arrays` per pair). The baseline evaluates one threshold at a time
   straight from the definition (mask conf < T, then the mean of the cascade's correctness: a
   numpy pass over all samples per threshold). Running it at every threshold of every pair
   would take hours, so it runs on a random subset of thresholds (`--loop-thresholds` per
   pair) for a few pairs, its values are checked against the sweep at those thresholds, and
   its time per threshold is extrapolated to all thresholds of all pairs. The ratio says so.
2. Synthetic data as in the paper's exhaustive evaluation: 63 models x 50,000 samples (1,953
   pairs), correctness correlated across models through a per-sample difficulty, confidence
   correlated with correctness. The last line is the ratio on it.
Timings depend on the machine and its load; never use them in assertions.
"""
from __future__ import annotations

import argparse
import os
import time

import sys
from pathlib import Path

import numpy as np

from littlebig_utils.core import engine
from littlebig_utils.core.pairs import pairs_table
from littlebig_utils.core.predictions import Predictions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_impl import pairs_table_per_pair  # noqa: E402


def per_threshold_loop(conf, little_correct, big_correct, thresholds):
    """The definition, one threshold at a time: (accuracy, fraction to big) per threshold."""
    acc, frac = [], []
    for t in thresholds:
        to_big = conf < t
        acc.append(np.where(to_big, big_correct, little_correct).mean())
        frac.append(to_big.mean())
    return np.array(acc), np.array(frac)


def time_loop(records, pairs, n_thresholds, n_pairs, rng):
    """Seconds per threshold of the loop, measured on a subset; checked against the sweep."""
    chosen = pairs.iloc[rng.choice(len(pairs), size=min(n_pairs, len(pairs)), replace=False)]
    seconds, evaluated = 0.0, 0
    for _, row in chosen.iterrows():
        little, big = records[row["little"]], records[row["big"]]
        grid = engine.candidate_thresholds(little.conf)
        subset = np.sort(rng.choice(grid, size=min(n_thresholds, len(grid)), replace=False))
        start = time.perf_counter()
        acc, frac = per_threshold_loop(little.conf, little.correct, big.correct, subset)
        seconds += time.perf_counter() - start
        evaluated += len(subset)
        ref = engine.sweep(little, big, thresholds=subset)
        np.testing.assert_allclose(acc, ref["accuracy"], atol=1e-11)
        np.testing.assert_allclose(frac, ref["frac_big"], atol=1e-12)
    return seconds / evaluated, evaluated, len(chosen)


def timed_tables(records, gmacs, check=True):
    """pairs_table, timed (best of 2 runs: the machine is shared); checked against the
    per-pair reference when `check`, and refused if they disagree."""
    times = []
    for _ in range(2):
        start = time.perf_counter()
        pairs = pairs_table(records, gmacs)
        times.append(time.perf_counter() - start)
    ref_time = np.nan
    if check:
        start = time.perf_counter()
        ref = pairs_table_per_pair(records, gmacs)
        ref_time = time.perf_counter() - start
        cols = ["threshold", "accuracy", "gmacs", "macs_reduction", "frac_big"]
        assert (ref[["little", "big"]].values == pairs[["little", "big"]].values).all()
        np.testing.assert_allclose(pairs[cols].to_numpy(float), ref[cols].to_numpy(float),
                                   atol=1e-12)
    return pairs, min(times), ref_time


def total_thresholds(records, pairs):
    """How many thresholds the full sweep evaluates: every distinct confidence of the little, per pair."""
    per_little = {k: len(engine.candidate_thresholds(p.conf)) for k, p in records.items()}
    return int(sum(per_little[little] for little in pairs["little"]))


def synthetic_records(n_models=63, n_samples=50_000, n_classes=1000, seed=0):
    """Models that agree on what is hard: a per-sample difficulty drives every model's errors."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"s{i}" for i in range(n_samples)])
    labels = rng.integers(0, n_classes, n_samples)
    difficulty = rng.normal(0.0, 1.0, n_samples)
    log_gmacs = np.sort(rng.uniform(np.log(0.1), np.log(1000.0), n_models))
    records = {}
    for m, lg in enumerate(log_gmacs):
        skill = 0.9 + 0.12 * lg + rng.normal(0.0, 0.15)  # bigger models are better, on average
        margin = skill - difficulty + rng.normal(0.0, 0.6, n_samples)  # per-model noise
        correct = margin > 0
        wrong_class = (labels + 1 + rng.integers(0, n_classes - 1, n_samples)) % n_classes
        conf = 1.0 / (1.0 + np.exp(-(1.5 * margin + rng.normal(0.0, 0.7, n_samples))))
        conf = np.round(conf, 4)  # like stored confidences: ties happen
        name = f"synthetic_{m:02d}"
        records[name] = Predictions(ids, labels, np.where(correct, labels, wrong_class), conf,
                                    model={"name": name, "gmacs": float(np.exp(lg))},
                                    dataset="synthetic")
    return records


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop-thresholds", type=int, default=300,
                        help="thresholds per pair on which the loop is run (default 300)")
    parser.add_argument("--loop-pairs", type=int, default=3, help="pairs the loop is run on (default 3)")
    parser.add_argument("--synthetic-models", type=int, default=63)
    parser.add_argument("--synthetic-samples", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(f"CPU cores visible: {os.cpu_count()}; timings depend on the machine and its load")

    from littlebig_utils import load
    records = load("imagenet-val")
    gmacs = {k: p.model["gmacs"] for k, p in records.items()}
    pairs, vec, ref = timed_tables(records, gmacs)
    per_t, n_eval, n_loop_pairs = time_loop(records, pairs, args.loop_thresholds, args.loop_pairs, rng)
    n_total = total_thresholds(records, pairs)
    loop = per_t * n_total
    print(f"\nreal: {len(records)} models, {len(pairs)} pairs, {len(next(iter(records.values()))):,} "
          f"samples, {n_total:,} thresholds in all")
    print(f"  pairs_table, all pairs, all thresholds: {vec:.2f} s; per-pair reference "
          f"(one full sweep per pair, tests/reference_impl.py): {ref:.2f} s (same table)")
    print(f"  per-threshold loop: {1e3 * per_t:.3f} ms per threshold, measured on {n_eval} thresholds "
          f"of {n_loop_pairs} pairs (values checked against the sweep), extrapolated to all "
          f"{n_total:,}: {loop:.0f} s; ratio {loop / vec:,.0f}x")

    start = time.perf_counter()
    synth = synthetic_records(args.synthetic_models, args.synthetic_samples, seed=args.seed)
    make = time.perf_counter() - start
    sg = {k: p.model["gmacs"] for k, p in synth.items()}
    spairs, svec, _ = timed_tables(synth, sg, check=False)
    sper_t, sn_eval, sn_pairs = time_loop(synth, spairs, args.loop_thresholds, args.loop_pairs, rng)
    sn_total = total_thresholds(synth, spairs)
    acc = np.array([100 * p.accuracy for p in synth.values()])
    ok = spairs[~spairs["degenerate"]]
    print(f"\nsynthetic: {len(synth)} models x {args.synthetic_samples:,} samples "
          f"(top-1 {acc.min():.1f}-{acc.max():.1f} %, correlated correctness; made in {make:.1f} s), "
          f"{len(spairs):,} pairs, {sn_total:,} thresholds in all")
    print(f"  pairs_table, all pairs, all thresholds: {svec:.2f} s "
          f"({1e3 * svec / len(spairs):.2f} ms per pair)")
    print(f"  per-threshold loop, extrapolated from {sn_eval} thresholds of {sn_pairs} pairs: "
          f"{sper_t * sn_total / 3600:.1f} h")
    print(f"  genuine pairs: {len(ok):,}; median MACs reduction at no loss "
          f"{100 * ok['macs_reduction'].median():.1f} % (synthetic: a sanity check, not a result)")
    print(f"pairs_table vs per-threshold loop, {len(synth)} models x {args.synthetic_samples:,}: "
          f"{sper_t * sn_total / svec:.0f}x")


if __name__ == "__main__":
    main()
