"""Chapter `tab02_model_pairs` (notebooks/tab02_model_pairs.ipynb): the pairs Table 2 sets
apart and the exercise's tolerance loop (fractions, as in the pair table).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core import pairs as core_pairs
from littlebig_utils.book.headlines import Zoo
from littlebig_utils.book.selection import MIN_GAP

__all__ = ["set_apart", "tolerance_gain"]


def set_apart(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(near, degenerate): per big model, its best genuine companion when that one is less than
    `min_gap` less accurate (a meaningful table would list it if closeness were allowed), and its
    best degenerate companion (already at least as accurate: T = 0)."""
    genuine = core_pairs.best_little_per_big(pairs, degenerate=False)
    near = genuine[(genuine["big_accuracy"] - genuine["little_accuracy"]) < min_gap]
    return near, core_pairs.best_little_per_big(pairs, degenerate=True)


def tolerance_gain(zoo: Zoo, table: pd.DataFrame, tolerance: float = 0.005) -> pd.DataFrame:
    """For each row of a Table 2 (`table`), the MACs reduction when the cascade may be
    `tolerance` (a fraction) less accurate than big, and its gain over the no-loss reduction."""
    rows = []
    for _, r in table.iterrows():
        t = engine.sweep(zoo.records[r["little"]], zoo.records[r["big"]],
                         little_gmacs=zoo.gmacs[r["little"]], big_gmacs=zoo.gmacs[r["big"]])
        p = engine.matched_accuracy_point(t, r["big_accuracy"] - tolerance)
        rows.append({"big": r["big"], "little": r["little"], "no_loss": r["macs_reduction"],
                     "frac_big": r["frac_big"],
                     "tolerant": np.nan if p is None else float(p["macs_reduction"])})
    out = pd.DataFrame(rows, columns=["big", "little", "no_loss", "frac_big", "tolerant"])
    return out.assign(gain=out["tolerant"] - out["no_loss"]).sort_values("gain", ascending=False,
                                                                           kind="stable")
