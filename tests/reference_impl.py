"""Independent, slow reference implementations the package is checked against (tests only)."""
import numpy as np
import pandas as pd
from littlebig_utils.core.predictions import align
from littlebig_utils.core import engine
from littlebig_utils.core import pairs as pt


def pairs_table_per_pair(records, gmacs):
    """The pairs table one pair at a time: a full sweep per pair, then its no-loss point."""
    rows = []
    for a in records:
        for b in records:
            if not gmacs[a] < gmacs[b]:
                continue
            little, big = align(records[a], records[b])
            table = engine.sweep_arrays(little.conf, little.correct, big.correct,
                                         little_gmacs=gmacs[a], big_gmacs=gmacs[b])
            n = len(little)
            la, ba = little.correct.sum() / n, big.correct.sum() / n
            row = dict(little=a, big=b, threshold=np.nan, accuracy=np.nan, little_accuracy=la,
                       big_accuracy=ba, gmacs=np.nan, little_gmacs=gmacs[a], big_gmacs=gmacs[b],
                       macs_reduction=np.nan, frac_big=np.nan,
                       degenerate=bool(little.correct.sum() >= big.correct.sum()))
            point = engine.no_loss_point(table)
            if point is not None:
                row.update(threshold=float(point["threshold"]), accuracy=float(point["accuracy"]),
                           frac_big=float(point["frac_big"]), gmacs=float(point["gmacs"]),
                           macs_reduction=float(point["macs_reduction"]))
            rows.append(row)
    df = pd.DataFrame(rows, columns=pt.PAIR_COLUMNS)
    return df.sort_values(["big_gmacs", "big", "little_gmacs", "little"]).reset_index(drop=True)


def fixed_sequence(thresholds_desc, p_values, delta):
    """Learn-then-Test by hand: walk T downwards, stop at the first p > delta; last passed T."""
    chosen = None
    for t, p in zip(thresholds_desc, p_values):
        if p > delta:
            break
        chosen = t
    return chosen
