"""Repeated-split and Monte-Carlo studies on arrays: how the threshold rules behave on new data.

Every study draws its splits from the engine's one generator (`engine.splits`: split s uses
seed ``seed + s``), chooses thresholds with the rules of `ltt` on one side and judges them with
the engine's evaluators on the other. Inputs are plain arrays (confidences, correctness), so
the book's chapters, the benchmarks and the tests share one definition of every study.
Units: fractions (max_loss 0.005, loss 0.001, macs_reduction 0.4).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core.checks import (InputError, check_conf, check_correct, check_cost,
                                         check_delta, check_labels, check_max_loss, check_method,
                                         check_probabilities, check_seed)
from littlebig_utils.core.engine import (_loss_table, _sweep, accuracy_at, candidate_thresholds,
                                         counts_below, curve_area, deferral_curve,
                                         evaluate_thresholds, max_loss_point, no_loss_thresholds,
                                         loses_more, split_indices, split_masks, splits, total)
from littlebig_utils.core.ltt import (_empirical, _guaranteed, guaranteed_threshold,
                                      wsr_threshold)
from littlebig_utils.core.pairs import pairs_table
from littlebig_utils.core.scores import KINDS, LearnedDeferral, oracle_score

__all__ = ["STUDY_RULES", "split_study", "heldout_study", "population_curve", "guarantee_study",
           "eligible_pairs", "guarantee_pairs", "deferral_study", "summarize_deferral",
           "paired_gain", "probs_rules", "conf_pred_rules", "human_labels", "regime_study",
           "example_curves", "guarantee_by_score"]

STUDY_RULES = ("guaranteed", "empirical-no-loss", "empirical-max-loss", "oracle")


def _arrays(conf, little_correct, big_correct):
    conf = check_conf(conf)
    return (conf, check_correct(little_correct, "little_correct", len(conf)),
            check_correct(big_correct, "big_correct", len(conf)))


def split_study(conf, little_correct, big_correct, max_losses, deltas, n_splits: int,
                calib_frac: float = 0.2, seed: int = 0, method: str = "clopper-pearson",
                little_gmacs: float | None = None, big_gmacs: float | None = None,
                shifted: dict | None = None) -> pd.DataFrame:
    """Choose T on `n_splits` random calibration splits, judge each T on the rest.

    Split s is ``split_indices(n, calib_frac, seed + s)``. Rules: ``guaranteed`` (one per
    max_loss and delta), ``empirical-no-loss`` (max_loss-free; one row per max_loss so that
    its violations can be counted), ``empirical-max-loss`` and ``oracle`` (cheapest T whose
    *test* loss is <= max_loss: what tuning on the test data buys). T is always chosen with
    `little_correct` / `big_correct`; it is judged against those (``labels="original"``) and
    against each entry of `shifted`, ``name -> (little_correct, big_correct, valid)`` over all
    samples (e.g. ReaL: other labels, same images); the oracle is recomputed for each label
    set. A T of None means the big model alone (loss 0, frac_big 1, no MACs saved). One row
    per split, rule, max_loss, delta and label set; accuracies and losses are fractions; a
    row is ``violated`` when its test loss exceeds max_loss.
    """
    conf, lc, bc = _arrays(conf, little_correct, big_correct)
    max_losses = [check_max_loss(e) for e in np.atleast_1d(max_losses)]
    deltas = [check_delta(d) for d in np.atleast_1d(deltas)]
    method = check_method(method)
    n = len(conf)
    label_sets = {"original": (lc, bc, None)}
    for name, (slc, sbc, sv) in (shifted or {}).items():
        label_sets[name] = (check_correct(slc, f"{name} little_correct", n),
                            check_correct(sbc, f"{name} big_correct", n),
                            None if sv is None else check_correct(sv, f"{name} valid", n))
    costs = None if little_gmacs is None and big_gmacs is None else (
        check_cost(little_gmacs, "little_gmacs"), check_cost(big_gmacs, "big_gmacs"))
    rows = []
    for s, calib, test in splits(n, calib_frac, n_splits, seed):
        c = (conf[calib], lc[calib], bc[calib])  # checked above: the rules' private forms
        if len(calib) == 0:
            raise InputError("empty calibration set: choose a threshold on at least one sample")
        table = _loss_table(*c)
        chosen = []  # (rule, max_loss, delta, threshold or None)
        no_loss = _empirical(*c, 0.0).threshold
        for e in max_losses:
            chosen.append(("empirical-no-loss", e, np.nan, no_loss))
            chosen.append(("empirical-max-loss", e, np.nan, _empirical(*c, e).threshold))
            for d in deltas:
                chosen.append(("guaranteed", e, d,
                               _guaranteed(*c, e, d, method, table=table).threshold))
        found = sorted({t for *_, t in chosen if t is not None})
        for labels, (slc, sbc, sv) in label_sets.items():
            tc, tlc, tbc = conf[test], slc[test], sbc[test]
            tv = None if sv is None else sv[test]
            full = _sweep(tc, tlc, tbc, v=tv, costs=costs)
            big_acc = total(full, "big_n_correct") / total(full, "n_valid")
            at = _sweep(tc, tlc, tbc, np.asarray(found), tv, costs) if found else None
            points = {t: at.iloc[i] for i, t in enumerate(found)}
            oracle = [("oracle", e, np.nan, max_loss_point(full, e)) for e in max_losses]
            for rule, e, d, t in chosen + oracle:
                r = t if rule == "oracle" else (points[t] if t is not None else None)
                row = dict(split=s, labels=labels, rule=rule, max_loss=e, delta=d,
                           found=r is not None, big_accuracy=big_acc)
                if r is None:  # big alone
                    row.update(threshold=np.nan, accuracy=big_acc, loss=0.0, frac_big=1.0,
                               macs_reduction=0.0 if big_gmacs else np.nan, n_lost=0)
                else:
                    row.update(threshold=float(r["threshold"]), accuracy=float(r["accuracy"]),
                               loss=big_acc - float(r["accuracy"]), frac_big=float(r["frac_big"]),
                               macs_reduction=float(r["macs_reduction"]) if "macs_reduction" in r
                               else np.nan,
                               n_lost=int(total(full, "big_n_correct") - r["n_correct"]))
                # violated: lost more than max_loss of the valid test samples, exact in counts
                row["violated"] = bool(loses_more(row["n_lost"], total(full, "n_valid"), e))
                rows.append(row)
    return pd.DataFrame(rows)


def heldout_study(conf, little_correct, big_correct, little_gmacs: float, big_gmacs: float,
                  n_splits: int = 200, calib_frac: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Per split: the paper's no-loss T chosen on the calibration side, judged on the test side,
    next to the oracle T chosen on the test side itself (the paper's procedure).

    One row per split s (seed ``seed + s``): threshold, oracle_threshold, accuracy, big_accuracy
    (test side), change (cascade − big), lost (the cascade gets fewer test images right than
    big: exact, in counts), macs_reduction, oracle_macs_reduction, all fractions. A split whose
    calibration side has no no-loss T counts as the big model alone (no loss, no saving). All
    splits at once: `engine.no_loss_thresholds` and `engine.evaluate_thresholds` on masks.
    """
    if int(n_splits) < 1:
        raise InputError(f"n_splits must be at least 1, got {n_splits!r}")
    args = _arrays(conf, little_correct, big_correct)
    seeds = np.arange(check_seed(seed), check_seed(seed) + int(n_splits))
    calib = split_masks(len(args[0]), calib_frac, seeds)
    costs = dict(little_gmacs=little_gmacs, big_gmacs=big_gmacs, missing="big")
    t_cal = no_loss_thresholds(*args, calib)
    t_or = no_loss_thresholds(*args, ~calib)
    held = evaluate_thresholds(*args, t_cal, ~calib, **costs)
    oracle = evaluate_thresholds(*args, t_or, ~calib, **costs)
    return pd.DataFrame({
        "seed": seeds, "threshold": t_cal, "oracle_threshold": t_or,
        "accuracy": held["accuracy"], "big_accuracy": held["big_accuracy"],
        "change": held["accuracy"] - held["big_accuracy"],
        "lost": (held["n_correct"] < held["big_n_correct"]).to_numpy(),
        "macs_reduction": held["macs_reduction"],
        "oracle_macs_reduction": oracle["macs_reduction"]})


# ------------------------------------------------------------------ Monte-Carlo on a population

def population_curve(score, little_correct, big_correct):
    """Function T -> (risk, frac_big) on a whole population (fractions), on the sweep engine."""
    s, lc, bc = _arrays(score, little_correct, big_correct)
    n = len(s)

    def at(t):
        k, (loss_below, gain_below), (loss_n, gain_n) = counts_below(
            s, np.asarray(t, dtype=np.float64), ~lc & bc, lc & ~bc)
        return ((loss_n - loss_below) - (gain_n - gain_below)) / n, k / n
    return at


def guarantee_study(score, little_correct, big_correct, little_gmacs: float, big_gmacs: float,
                    max_loss: float, delta: float, n_calib: int = 5000, draws: int = 100,
                    seed: int = 0, methods=("clopper-pearson", "wsr")) -> pd.DataFrame:
    """How much of the oracle's MACs saving a guaranteed threshold keeps, and how often it fails.

    The given samples are the *population* (e.g. the 50,000 ImageNet val images): each draw
    takes `n_calib` of them with replacement as the calibration set, chooses T by each method
    (``"wsr"``: `ltt.wsr_threshold`, the bets in the draw's order shuffled by seed d; the others:
    `ltt.guaranteed_threshold`), and judges T on the population: a violation is a population
    risk above `max_loss`. The oracle T is the cheapest whose population risk is at most
    max_loss; ``kept = saving(T) / saving(oracle)`` with saving = 1 - mean GMACs / big GMACs
    (None, i.e. big alone, keeps 0). One row per draw and method.
    """
    max_loss, delta = check_max_loss(max_loss), check_delta(delta)
    lg, bg = check_cost(little_gmacs, "little_gmacs"), check_cost(big_gmacs, "big_gmacs")
    seed = check_seed(seed)
    s, lc, bc = _arrays(score, little_correct, big_correct)
    at = population_curve(s, lc, bc)
    cands = candidate_thresholds(s)
    risk, frac = at(cands)
    n = len(s)
    ok = ~loses_more(risk * n, n, max_loss)  # the population: every sample counts
    saving = lambda f: 1.0 - (lg + f * bg) / bg  # noqa: E731
    oracle_t = float(cands[ok][np.argmin(frac[ok])])
    oracle_saving = float(saving(frac[ok].min()))
    if oracle_saving <= 0:
        raise InputError("the oracle threshold saves no MACs for this pair: nothing to keep")
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(int(draws)):
        idx = rng.integers(0, len(s), int(n_calib))
        cs, cl, cb = s[idx], lc[idx], bc[idx]
        for method in methods:
            if method == "wsr":
                t = wsr_threshold(cs, cl, cb, max_loss, delta, order_seed=d)
            else:
                t = guaranteed_threshold(cs, cl, cb, max_loss, delta, method).threshold
            if t is None:
                r, f, sv = 0.0, 1.0, 0.0
            else:
                r, f = (float(v) for v in at(t))
                sv = float(saving(f))
            rows.append(dict(draw=d, method=method, threshold=np.nan if t is None else t,
                             found=t is not None, risk=r, frac_big=f, saving=sv,
                             kept=sv / oracle_saving, violated=bool(loses_more(r * n, n, max_loss)),
                             oracle_threshold=oracle_t, oracle_saving=oracle_saving))
    return pd.DataFrame(rows)


def eligible_pairs(records: dict, gmacs: dict, max_loss: float, k: int | None = None):
    """Genuine pairs whose little model alone loses more than `max_loss` against big -- for
    the others every bound certifies T = 0 and the study is empty -- ranked by their in-sample
    no-loss MACs reduction (the first `k`)."""
    max_loss = check_max_loss(max_loss)
    pairs = pairs_table(records, gmacs)
    ok = (~pairs["degenerate"].astype(bool) & pairs["threshold"].notna()
          & (pairs["big_accuracy"] - pairs["little_accuracy"] > max_loss))
    ranked = pairs[ok].sort_values("macs_reduction", ascending=False, kind="stable")
    return (ranked if k is None else ranked.head(k)).reset_index(drop=True)


def guarantee_pairs(records: dict, pairs, max_loss: float, delta: float, n_calib: int = 5000,
                    draws: int = 100, seed: int = 0):
    """`guarantee_study` for each pair (rows little, big) of Predictions with GMACs in their
    metadata. Returns (all draws, summary per pair and method: mean kept share, violation rate
    and its standard error, share of draws with a certified T)."""
    runs = []
    for _, r in pairs.iterrows():
        lp, bp = records[r["little"]], records[r["big"]]
        runs.append(guarantee_study(lp.conf, lp.correct, bp.correct, lp.model["gmacs"],
                                    bp.model["gmacs"], max_loss, delta, n_calib, draws, seed)
                    .assign(pair=f"{r['little']} -> {r['big']}"))
    mc = pd.concat(runs, ignore_index=True)
    s = mc.groupby(["pair", "method"], sort=False).agg(
        kept=("kept", "mean"), violation=("violated", "mean"), found=("found", "mean"),
        draws=("draw", "size"), oracle_saving=("oracle_saving", "first")).reset_index()
    s["violation_se"] = np.sqrt(s["violation"] * (1 - s["violation"]) / s["draws"])
    return mc, s


# ------------------------------------------------------------------ deferral rules on held-out splits
# Deferral rules (confidence, the oracle, learned keep-scores of `scores`) fitted on the
# calibration side of each split and judged by their deferral curve on the test side.

def deferral_study(rules: dict, little_correct, big_correct, n_splits: int = 10,
                   calib_frac: float = 0.5, seed: int = 0, shares=(0.1, 0.2, 0.3),
                   eval_sets: dict | None = None) -> pd.DataFrame:
    """Fit each rule on random calibration splits; judge its deferral curve on the rest.

    `rules`: name -> ``fit(calib_idx) -> score_fn`` where ``score_fn(test_idx, eval_name)``
    returns the keep-scores of those samples (a rule that needs no fitting ignores calib_idx).
    `eval_sets`: name -> (little_correct, big_correct) over the same samples, judged on the
    same test split (default: ``{"original": (little_correct, big_correct)}``): e.g. other
    labels (CIFAR-10H) or corrupted images (predictions of both models on them). Splits come
    from ``engine.splits`` (split s uses seed + s, the project's one split convention). Returns one row per
    split, rule, evaluation set and share (accuracy, a fraction), plus share = NaN rows with
    the area under the curve in ``auc``.
    """
    lc0 = check_correct(little_correct, "little_correct")
    bc0 = check_correct(big_correct, "big_correct", len(lc0))
    eval_sets = eval_sets or {"original": (lc0, bc0)}
    shares = np.asarray(shares, dtype=np.float64)
    rows = []
    for s, calib, test in splits(len(lc0), calib_frac, n_splits, seed):
        for name, fit in rules.items():
            score_fn = fit(calib)
            for ev, (lc, bc) in eval_sets.items():
                lc, bc = np.asarray(lc, bool), np.asarray(bc, bool)
                curve = deferral_curve(score_fn(test, ev), lc[test], bc[test])
                acc = accuracy_at(curve, shares)
                rows += [dict(split=s, rule=name, eval=ev, share=float(q), accuracy=float(a),
                              auc=np.nan) for q, a in zip(shares, acc)]
                rows.append(dict(split=s, rule=name, eval=ev, share=np.nan, accuracy=np.nan,
                                 auc=curve_area(curve)))
    return pd.DataFrame(rows)


def summarize_deferral(study: pd.DataFrame) -> pd.DataFrame:
    """Mean, min, max, 5th and 95th percentile over splits, per rule, eval set and share."""
    at = study[study["share"].notna()]
    g = at.groupby(["eval", "share", "rule"])["accuracy"]
    out = g.agg(mean="mean", min="min", max="max",
                q05=lambda a: np.quantile(a, 0.05), q95=lambda a: np.quantile(a, 0.95))
    return out.reset_index()


def paired_gain(study: pd.DataFrame, rule: str, baseline: str = "confidence") -> pd.DataFrame:
    """Per split, accuracy of `rule` minus `baseline` at each share (same split, same eval)."""
    at = study[study["share"].notna()]
    a = at[at["rule"] == rule].set_index(["eval", "share", "split"])["accuracy"]
    b = at[at["rule"] == baseline].set_index(["eval", "share", "split"])["accuracy"]
    if a.empty or b.empty:
        raise KeyError(f"study has no rows for rule {rule!r} or baseline {baseline!r}")
    d = (a - b).rename("gain").reset_index()
    return (d.groupby(["eval", "share"])["gain"]
            .agg(mean="mean", min="min", max="max").reset_index())


def probs_rules(fit_probs, fit_little_correct, fit_big_correct, evals: dict,
                kinds=KINDS, seed: int = 0) -> dict:
    """Rules for :func:`deferral_study` on the little model's probabilities.

    Fitted on ``(fit_probs, fit_little_correct, fit_big_correct)`` restricted to each
    calibration split; scored on ``evals[name] = (probs, little_correct, big_correct)`` (same
    samples, e.g. other labels or corrupted images). Rules: ``oracle`` (needs the evaluation
    labels), ``confidence`` and one learned rule per kind.
    """
    fp = check_probabilities(fit_probs, "fit_probs")
    flc = check_correct(fit_little_correct, "little_correct", len(fp))
    fbc = check_correct(fit_big_correct, "big_correct", len(fp))
    evals = {k: (check_probabilities(p, f"probs of {k}"),
                 check_correct(lc, f"little_correct of {k}", len(p)),
                 check_correct(bc, f"big_correct of {k}", len(p)))
             for k, (p, lc, bc) in evals.items()}
    rules = {"oracle": lambda calib: (lambda idx, ev: oracle_score(evals[ev][1][idx],
                                                                  evals[ev][2][idx])),
             "confidence": lambda calib: (lambda idx, ev: evals[ev][0][idx].max(1))}
    for kind in kinds:
        def fit(calib, kind=kind):
            rule = LearnedDeferral(kind, num_classes=fp.shape[1], seed=seed)
            rule.fit(fp[calib], flc[calib], fbc[calib])
            return lambda idx, ev: rule(evals[ev][0][idx])
        rules[f"learned ({kind})"] = fit
    return rules


def conf_pred_rules(conf, pred, little_correct, big_correct, num_classes: int,
                    seed: int = 0) -> dict:
    """Rules for :func:`deferral_study` from (confidence, predicted class) alone (ImageNet
    reference files): oracle, confidence, and the per-class learned rule."""
    conf = check_conf(conf)
    pred = check_labels(pred, "pred", len(conf), num_classes)
    lc = check_correct(little_correct, "little_correct", len(conf))
    bc = check_correct(big_correct, "big_correct", len(conf))

    def fit(calib):
        rule = LearnedDeferral("per-class", num_classes=num_classes, seed=seed)
        rule.fit_conf_pred(conf[calib], pred[calib], lc[calib], bc[calib])
        return lambda idx, ev: rule.score_conf_pred(conf[idx], pred[idx])
    return {"oracle": lambda calib: (lambda idx, ev: oracle_score(lc[idx], bc[idx])),
            "confidence": lambda calib: (lambda idx, ev: conf[idx]),
            "learned (per-class)": fit}


def human_labels(soft, seed: int = 0) -> np.ndarray:
    """One human annotator's label per image, drawn from CIFAR-10H's label distribution.

    Real label noise: where annotators disagree, the drawn label is another class with the
    probability they chose it. Deterministic in `seed`.
    """
    soft = np.asarray(soft, dtype=np.float64)
    if soft.ndim != 2 or (soft < 0).any() or np.abs(soft.sum(1) - 1).max() > 1e-6:
        raise InputError("soft labels must be (n, classes) rows of probabilities (CIFAR-10H)")
    u = np.random.default_rng(seed).random(len(soft))[:, None]
    return np.minimum((np.cumsum(soft, axis=1) < u).sum(1), soft.shape[1] - 1).astype(np.int64)


def regime_study(fit: tuple, evals: dict, n_splits: int = 10, calib_frac: float = 0.5,
                 seed: int = 0, shares=(0.1, 0.2, 0.3), kinds=KINDS) -> pd.DataFrame:
    """:func:`deferral_study` of :func:`probs_rules`: fit on `fit` = (probs, little_correct,
    big_correct), judge on every ``evals[name] = (probs, little_correct, big_correct)``."""
    rules = probs_rules(*fit, evals, kinds=kinds, seed=seed)
    ev = {k: (lc, bc) for k, (_, lc, bc) in evals.items()}
    first = next(iter(ev.values()))[0]
    return deferral_study(rules, first, first, n_splits, calib_frac, seed, shares, ev)




def example_curves(fit: tuple, evals: dict, calib_frac: float = 0.5, seed: int = 0,
                   split: int = 0, kinds=KINDS) -> pd.DataFrame:
    """Deferral curves of every rule of :func:`probs_rules` on one held-out split (for figures):
    rows rule, eval, frac_deferred, accuracy (fractions)."""
    rules = probs_rules(*fit, evals, kinds=kinds, seed=seed)
    calib, test = split_indices(len(fit[1]), calib_frac, check_seed(seed) + int(split))
    out = []
    for name, f in rules.items():
        score_fn = f(calib)
        for ev, (_, lc, bc) in evals.items():
            c = deferral_curve(score_fn(test, ev), np.asarray(lc)[test], np.asarray(bc)[test])
            out.append(c.assign(rule=name, eval=ev))
    return pd.concat(out, ignore_index=True)


def guarantee_by_score(fit: tuple, max_loss: float, delta: float, n_splits: int = 10,
                       calib_frac: float = 0.5, seed: int = 0, kind: str = "probs",
                       methods=("clopper-pearson", "wsr")) -> pd.DataFrame:
    """The guaranteed threshold on a learned keep-score as on confidence.

    For each random split of ``fit = (probs, little_correct, big_correct)``: the learned rule
    is fitted on one half of the calibration split and the threshold certified on the other
    half (a score must not be tuned on the data that certify it), then both are judged on the
    test split. `epsilon` is a fraction. Rows: split, score, method, threshold (NaN: big
    alone), frac_big and loss (fractions) on the test split, violated.
    """
    probs = check_probabilities(fit[0])
    lc = check_correct(fit[1], "little_correct", len(probs))
    bc = check_correct(fit[2], "big_correct", len(probs))
    max_loss, delta = check_max_loss(max_loss), check_delta(delta)
    rows = []
    for s, calib, test in splits(len(lc), calib_frac, n_splits, seed):
        learn, cert = calib[::2], calib[1::2]
        rule = LearnedDeferral(kind, num_classes=probs.shape[1], seed=seed)
        rule.fit(probs[learn], lc[learn], bc[learn])
        scores = {"confidence": probs.max(1), f"learned ({kind})": rule(probs)}
        for name, sc in scores.items():
            for method in methods:
                if method == "wsr":
                    t = wsr_threshold(sc[cert], lc[cert], bc[cert], max_loss, delta, order_seed=s)
                else:
                    t = guaranteed_threshold(sc[cert], lc[cert], bc[cert], max_loss, delta,
                                             method).threshold
                to_big = sc[test] < (t if t is not None else np.inf)
                n_lost = int(bc[test].sum() - np.where(to_big, bc[test], lc[test]).sum())
                loss = n_lost / len(test)
                rows.append(dict(split=s, score=name, method=method,
                                 threshold=np.nan if t is None else t,
                                 frac_big=float(to_big.mean()), loss=float(loss),
                                 violated=bool(loses_more(n_lost, len(test), max_loss))))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the CLI's threshold table
# (kept only while `littlebig threshold` calls it; the CLI is moving to Cascade.fit/evaluate)


