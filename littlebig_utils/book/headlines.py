"""What two or more ImageNet result chapters share, defined once: the zoo, the book's one
"typical MACs reduction", the paper's range, Table 2's rows and view, pair labels and the
cascade-vs-big interval.

Each name says which chapters use it; code that only one chapter uses lives in
`littlebig_utils.book.chapters.<that notebook>`. Data (the zoo, the pair table, Table 2 rows)
is in fractions, as in the pair table (`pairs_table`); `typical_reduction`'s dict of quoted
numbers and `table2_view` are in percent and accuracy points.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core import pairs as core_pairs
from littlebig_utils.core.checks import check_threshold
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book.selection import MIN_GAP, meaningful_pairs

__all__ = ["SMOKE_IMAGES", "Zoo", "load_zoo", "smoke_subset", "TYPICAL_DEFINITION",
           "typical_reduction", "best_meaningful_per_big", "table2_view", "pair_label",
           "cascade_vs_big", "PAPER_RANGE"]

SMOKE_IMAGES = 5_000
PAPER_RANGE = (0.30, 0.80)  # the abstract's MACs reduction at no loss (reported: 30-80 %); fig03, tab02, all_pairs

TYPICAL_DEFINITION = ("the median, over the meaningful pairs (big model at least {gap:g} point "
                      "more accurate than a cheaper, not-degenerate little model that reaches "
                      "no loss), of the MACs reduction at the no-loss threshold")


def smoke_subset(records: dict[str, Predictions], seed: int = 0,
                 n: int = SMOKE_IMAGES) -> dict[str, Predictions]:
    """The same random `n` images (sorted, seeded) of every model: the chapters' smoke mode
    (through `load_zoo`)."""
    total = len(next(iter(records.values())))
    idx = np.sort(np.random.default_rng(seed).choice(total, min(n, total), replace=False))
    return {k: p.subset(idx) for k, p in records.items()}


@dataclass
class Zoo:
    """The reference models of a chapter: predictions, GMACs, top-1 (a fraction), pair table.
    Every ImageNet result chapter starts from one (all_pairs, fig01, fig03, tab02, tab03,
    multistage, and the studies' chapters through `studies.imagenet_setup`)."""
    records: dict[str, Predictions]
    pairs: pd.DataFrame
    dataset: str
    gmacs: dict[str, float] = field(init=False)
    accuracy: dict[str, float] = field(init=False)

    def __post_init__(self):
        self.gmacs = {k: float(p.model["gmacs"]) for k, p in self.records.items()}
        self.accuracy = {k: p.accuracy for k, p in self.records.items()}

    def single_models(self) -> pd.DataFrame:
        """One row per model: name, gmacs, accuracy (a fraction), params_m; cheapest first."""
        rows = [{"name": k, "gmacs": self.gmacs[k], "accuracy": self.accuracy[k],
                 "params_m": float(p.model.get("params_m", np.nan))}
                for k, p in self.records.items()]
        return pd.DataFrame(rows).sort_values(["gmacs", "name"], kind="stable").reset_index(drop=True)


def load_zoo(smoke: bool = False, seed: int = 0, records: dict[str, Predictions] | None = None) -> Zoo:
    """The 14 reference models on ImageNet-1k val (a 5,000-image subset in smoke mode) and
    their pair table. `records` replaces the reference predictions (tests, tab03's halves)."""
    if records is None:
        from littlebig_utils.data import load
        records = load("imagenet-val")
    if smoke:
        records = smoke_subset(records, seed)
    gmacs = {k: p.model["gmacs"] for k, p in records.items()}
    label = "ImageNet-1k val" + (f" (smoke: {len(next(iter(records.values()))):,} images)" if smoke else "")
    return Zoo(records, core_pairs.pairs_table(records, gmacs), label)


def typical_reduction(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> dict:
    """The book's one "typical MACs reduction" (`TYPICAL_DEFINITION`): median, quartiles, range
    (percent, as quoted) and count over `selection.meaningful_pairs`. NaN numbers when no pair
    is meaningful. Quoted by all_pairs, fig01 and fig03, so "the median" has one definition."""
    m = 100 * meaningful_pairs(pairs, min_gap)["macs_reduction"]
    q = m.quantile([0.25, 0.5, 0.75]) if len(m) else pd.Series([np.nan] * 3, index=[0.25, 0.5, 0.75])
    return {"median": float(q[0.5]), "q25": float(q[0.25]), "q75": float(q[0.75]),
            "min": float(m.min()) if len(m) else np.nan, "max": float(m.max()) if len(m) else np.nan,
            "n": int(len(m)), "definition": TYPICAL_DEFINITION.format(gap=100 * min_gap)}


def best_meaningful_per_big(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> pd.DataFrame:
    """Table 2 under the meaningful-pair rule: for every big model, its meaningful companion
    with the largest MACs reduction at no loss (rows by the big model's GMACs). Used by tab02
    (the table) and fig01 (one cascade per big model on the frontier)."""
    m = meaningful_pairs(pairs, min_gap)
    cols = list(pairs.columns)
    if m.empty:
        return pairs.iloc[:0][cols]
    return core_pairs.best_little_per_big(m[cols], degenerate=False)


def pair_label(little: str, big: str) -> str:
    """"little → big", as every page names a pair (all_pairs, fig01, tab03)."""
    return f"{little} \u2192 {big}"


def table2_view(table: pd.DataFrame) -> tuple[pd.DataFrame, dict, dict]:
    """A reader's Table 2 (six columns, fits a phone when it scrolls in its box): big model,
    little companion, accuracy gap (points), T, share sent to big, MACs saved (percent). Returns
    (frame, formats, headers) for `notebook.markdown_table`. Used by tab02 and fig03."""
    view = pd.DataFrame({"big": table["big"].to_numpy(), "little": table["little"].to_numpy(),
                         "gap": 100 * (table["big_accuracy"] - table["little_accuracy"]).to_numpy(),
                         "threshold": table["threshold"].to_numpy(),
                         "to_big": 100 * table["frac_big"].to_numpy(),
                         "saved": 100 * table["macs_reduction"].to_numpy()})
    formats = {"gap": ".2f", "threshold": ".3f", "to_big": ".1f", "saved": ".1f"}
    headers = {"big": "big model", "little": "little companion", "gap": "gap (points)",
               "threshold": "T", "to_big": "to big (%)", "saved": "MACs saved (%)"}
    return view, formats, headers


def cascade_vs_big(zoo: Zoo, little: str, big: str, threshold: float, method: str = "mcnemar"):
    """Accuracy difference cascade − big at a fixed threshold, with its interval
    (`uncertainty.accuracy_difference`, exact McNemar by default), on the zoo's images: the
    interval fig03 and tab02 print next to their no-loss point."""
    from littlebig_utils.core import uncertainty
    from littlebig_utils.core.predictions import align
    lp, bp = align(zoo.records[little], zoo.records[big])
    to_big = engine.route(lp.conf, check_threshold(threshold))
    return uncertainty.accuracy_difference(np.where(to_big, bp.correct, lp.correct), bp.correct,
                                           method=method)
