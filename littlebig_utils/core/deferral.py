"""Deferral rules beyond max-softmax: the oracle, confidence, and post-hoc learned rules.

Jitkrittum, Gupta, Menon, Narasimhan, Rawat, Kumar, "When Does Confidence-Based Cascade
Deferral Suffice?", NeurIPS 2023 (arXiv 2307.02764). A deferral rule ranks the samples; for a
budget of k samples sent to the big model it sends the k lowest-ranked. Every rule here is a
*keep-score* in [0, 1]: higher = keep the little model's answer, and a sample goes to big when
``score < T``, exactly like the confidence rule, so a learned score plugs into every threshold
procedure of the package (sweeps, Learn-then-Test, WSR).

* :func:`oracle_score` -- ``(1 + little correct - big correct) / 2``: defers first the samples
  where little is wrong and big right, last those where little is right and big wrong. It needs
  the labels, so it is not a rule one can deploy; its deferral curve is the upper bound of every
  rule at every budget.
* :func:`confidence_score` -- the little model's max softmax (the paper's and our baseline).
* :class:`LearnedDeferral` -- post-hoc rules fitted on a calibration split. The Bayes-optimal
  rule defers the samples where ``P(big correct | x) - P(little correct | x)`` is largest; a
  post-hoc rule estimates that gain from what the little model outputs. Kinds:

  - ``"per-class"``: features = confidence and predicted class (the simplest learned rule: one
    threshold per predicted class). Keep-score = calibrated P(little correct | conf, class) -
    P(big correct | conf, class), each a logistic regression on [logit(conf), one-hot class]
    with an L2 penalty that shrinks the class terms towards the shared slope.
  - ``"probs"``: features = the little model's full probability vector (log-probabilities,
    logits of the three largest probabilities, entropy, one-hot predicted class); the same two
    logistic regressions on them.

  Both map ``P(little) - P(big)`` in [-1, 1] to a keep-score ``(1 + P(little) - P(big)) / 2``.

Deferral curves. :func:`deferral_curve` gives the accuracy at every deferral budget in one
sort and one cumulative sum. Samples with equal scores cannot be split by a threshold, so the
curve has a point at the end of each group of ties; :func:`accuracy_at` interpolates linearly
between them, which is the expected accuracy when the straddling tie group is split at random.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["oracle_score", "confidence_score", "LearnedDeferral", "KINDS", "C_GRID",
           "deferral_curve", "accuracy_at", "curve_area", "deferral_study", "summarize_study",
           "paired_gain", "probs_rules", "conf_pred_rules", "regime_study", "example_curves", "human_labels",
           "guarantee_by_score"]

KINDS = ("per-class", "probs")


def _bool(a, name):
    a = np.asarray(a)
    if a.dtype != bool and not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must be booleans (or 0/1), got values {np.unique(a)[:5]}")
    return a.astype(bool)


def _probs(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must be (n, num_classes) probabilities, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("probs contain NaN or inf; recompute them from finite logits")
    if p.size and (p.min() < 0 or np.abs(p.sum(1) - 1).max() > 1e-3):
        raise ValueError("probs must be probabilities (nonnegative, rows summing to 1); "
                         "apply a softmax to logits first")
    return p


def oracle_score(little_correct, big_correct) -> np.ndarray:
    """Keep-score of the oracle: 0 where only big is right, 1 where only little is, 1/2 else."""
    lc, bc = _bool(little_correct, "little_correct"), _bool(big_correct, "big_correct")
    return (1.0 + lc - bc.astype(np.float64)) / 2


def confidence_score(probs) -> np.ndarray:
    """Max softmax probability of the little model."""
    return _probs(probs).max(axis=1)


# ------------------------------------------------------------------ learned rules

def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


C_GRID = (0.003, 0.03, 0.3, 3.0)


def _keep(models, X):
    """(1 + P(little right) - P(big right)) / 2 from the two fitted models."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        p = [np.full(X.shape[0], m) if isinstance(m, float) else m.predict_proba(X)[:, 1]
             for m in models]
    return (1.0 + p[0] - p[1]) / 2


class LearnedDeferral:
    """A post-hoc deferral rule fitted on a calibration split; ``rule(probs)`` -> keep-score.

    ``LearnedDeferral("per-class", num_classes=1000)`` needs only (conf, predicted class), so
    it can be fitted from the reference files, which carry no probability vectors:
    ``fit_conf_pred(conf, pred, little_correct, big_correct)``. ``"probs"`` needs the full
    probability vector: ``fit(probs, little_correct, big_correct)``. `C` is the inverse L2
    strength of scikit-learn's LogisticRegression; ``C="auto"`` picks it from :data:`C_GRID`
    by 2-fold cross-validation *within the calibration split* (largest area under the deferral
    curve), so the test split is never used to tune the rule. The chosen value is in `C_`.
    """

    def __init__(self, kind: str = "per-class", num_classes: int | None = None, C="auto",
                 seed: int = 0):
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        if C != "auto" and not (isinstance(C, (int, float)) and C > 0):
            raise ValueError(f"C must be a positive number or 'auto', got {C!r}")
        self.kind, self.num_classes, self.C, self.seed = kind, num_classes, C, seed
        self.models_ = None
        self.C_ = None

    # features ------------------------------------------------------------
    def _features_conf_pred(self, conf, pred):
        from scipy import sparse
        conf = np.asarray(conf, dtype=np.float64)
        pred = np.asarray(pred, dtype=np.int64)
        k = self.num_classes
        if k is None or pred.size and (pred.min() < 0 or pred.max() >= k):
            raise ValueError(f"predicted classes must lie in [0, num_classes={k})")
        onehot = sparse.csr_matrix((np.ones(len(pred)), (np.arange(len(pred)), pred)),
                                   shape=(len(pred), k))
        return sparse.hstack([sparse.csr_matrix(_logit(conf)[:, None]), onehot]).tocsr()

    def _features(self, probs):
        p = _probs(probs)
        if self.kind == "per-class":
            if self.num_classes is None:
                self.num_classes = p.shape[1]
            return self._features_conf_pred(p.max(1), p.argmax(1))
        logp = np.log(np.clip(p, 1e-12, 1))
        top = -np.sort(-p, axis=1)[:, :3]
        entropy = -(p * logp).sum(1, keepdims=True)
        pred = np.eye(p.shape[1])[p.argmax(1)]
        return np.hstack([logp, _logit(top), entropy, pred])

    # fitting -------------------------------------------------------------
    @staticmethod
    def _models(X, lc, bc, C, seed):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from threadpoolctl import threadpool_limits
        models = []
        for y in (lc, bc):
            if y.all() or not y.any():  # one class only: a constant probability
                models.append(float(y.mean()))
                continue
            # standardized features converge in a few dozen L-BFGS steps; one BLAS thread
            # avoids oversubscribing a busy machine (small problems gain nothing from threads)
            # (the sparse per-class design is left as it is: one-hot columns, one logit)
            m = LogisticRegression(C=C, max_iter=2000, random_state=seed)
            if not hasattr(X, "tocsr"):
                m = make_pipeline(StandardScaler(), m)
            with threadpool_limits(1):
                models.append(m.fit(X, y))
        return models

    def _fit(self, X, little_correct, big_correct):
        lc, bc = _bool(little_correct, "little_correct"), _bool(big_correct, "big_correct")
        if X.shape[0] != len(lc) or len(lc) != len(bc):
            raise ValueError("features, little_correct and big_correct must have the same length")
        if len(lc) == 0:
            raise ValueError("cannot fit a deferral rule on an empty calibration split")
        C = self.C
        if C == "auto":
            folds = np.random.default_rng(self.seed).permutation(len(lc)) % 2
            areas = []
            for c in C_GRID:
                area = 0.0
                for f in (0, 1):
                    tr, te = folds != f, folds == f
                    models = self._models(X[tr], lc[tr], bc[tr], c, self.seed)
                    area += curve_area(deferral_curve(_keep(models, X[te]), lc[te], bc[te]))
                areas.append(area)
            C = C_GRID[int(np.argmax(areas))]
        self.C_ = C
        self.models_ = self._models(X, lc, bc, C, self.seed)
        return self

    def fit(self, probs, little_correct, big_correct) -> "LearnedDeferral":
        """Fit on the little model's probabilities of a calibration split."""
        return self._fit(self._features(probs), little_correct, big_correct)

    def fit_conf_pred(self, conf, pred, little_correct, big_correct) -> "LearnedDeferral":
        """Fit the per-class rule from confidences and predicted classes alone."""
        if self.kind != "per-class":
            raise ValueError("fit_conf_pred is for kind='per-class'; use fit(probs, ...)")
        return self._fit(self._features_conf_pred(conf, pred), little_correct, big_correct)

    # scoring -------------------------------------------------------------
    def _score(self, X):
        if self.models_ is None:
            raise RuntimeError("fit the rule on a calibration split first")
        return _keep(self.models_, X)

    def score(self, probs) -> np.ndarray:
        """Keep-score in [0, 1] for new samples: (1 + P(little right) - P(big right)) / 2."""
        return self._score(self._features(probs))

    def score_conf_pred(self, conf, pred) -> np.ndarray:
        return self._score(self._features_conf_pred(conf, pred))

    __call__ = score


# ------------------------------------------------------------------ deferral curves

def deferral_curve(score, little_correct, big_correct) -> pd.DataFrame:
    """Accuracy (fraction) of the cascade at every achievable deferral share, in one pass.

    Samples are sent to big in ascending score; the rows are the cut points a threshold can
    make (0, then the end of each group of equal scores): n_deferred, frac_deferred,
    accuracy, and threshold (the smallest T deferring exactly those samples, score < T).
    """
    s = np.asarray(score, dtype=np.float64)
    lc, bc = _bool(little_correct, "little_correct"), _bool(big_correct, "big_correct")
    if not (s.ndim == 1 and len(s) == len(lc) == len(bc)):
        raise ValueError("score, little_correct and big_correct must be 1-d of the same length")
    n = len(s)
    if n == 0:
        raise ValueError("empty split: a deferral curve needs at least one sample")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    order = np.argsort(s, kind="stable")
    ss = s[order]
    gain = np.concatenate([[0], np.cumsum(bc[order].astype(np.int64) - lc[order])])
    ends = np.concatenate([[0], np.flatnonzero(np.r_[ss[1:] != ss[:-1], True]) + 1])
    n_correct = int(lc.sum()) + gain[ends]
    thr = np.where(ends < n, ss[np.minimum(ends, n - 1)], np.inf)
    return pd.DataFrame({"n_deferred": ends, "frac_deferred": ends / n,
                         "accuracy": n_correct / n, "threshold": thr})


def accuracy_at(curve: pd.DataFrame, shares) -> np.ndarray:
    """Accuracy at deferral shares (fractions), linear between cut points (random tie split)."""
    shares = np.asarray(shares, dtype=np.float64)
    if np.isnan(shares).any() or shares.min() < 0 or shares.max() > 1:
        raise ValueError("deferral shares must be fractions in [0, 1]")
    return np.interp(shares, curve["frac_deferred"].to_numpy(), curve["accuracy"].to_numpy())


def curve_area(curve: pd.DataFrame) -> float:
    """Area under the deferral curve (accuracy averaged over all deferral shares 0..1)."""
    x, y = curve["frac_deferred"].to_numpy(), curve["accuracy"].to_numpy()
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


# ------------------------------------------------------------------ held-out study

def deferral_study(rules: dict, little_correct, big_correct, n_splits: int = 10,
                   calib_frac: float = 0.5, seed: int = 0, shares=(0.1, 0.2, 0.3),
                   eval_sets: dict | None = None) -> pd.DataFrame:
    """Fit each rule on random calibration splits; judge its deferral curve on the rest.

    `rules`: name -> ``fit(calib_idx) -> score_fn`` where ``score_fn(test_idx, eval_name)``
    returns the keep-scores of those samples (a rule that needs no fitting ignores calib_idx).
    `eval_sets`: name -> (little_correct, big_correct) over the same samples, judged on the
    same test split (default: ``{"original": (little_correct, big_correct)}``): e.g. other
    labels (CIFAR-10H) or corrupted images (predictions of both models on them). Splits come
    from ``engine.split_indices(n, calib_frac, seed + s)`` (the project's one split
    convention). Returns one row per
    split, rule, evaluation set and share (accuracy, a fraction), plus share = NaN rows with
    the area under the curve in ``auc``.
    """
    from littlebig_utils.core.engine import split_indices
    lc0, bc0 = _bool(little_correct, "little_correct"), _bool(big_correct, "big_correct")
    eval_sets = eval_sets or {"original": (lc0, bc0)}
    shares = np.asarray(shares, dtype=np.float64)
    rows = []
    for s in range(int(n_splits)):
        calib, test = split_indices(len(lc0), calib_frac, seed=int(seed) + s)
        if len(calib) == 0 or len(test) == 0:
            raise ValueError(f"calib_frac {calib_frac} leaves an empty calibration or test "
                             f"split of {len(lc0)} samples")
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


def summarize_study(study: pd.DataFrame) -> pd.DataFrame:
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
    fp = _probs(fit_probs)
    flc = _bool(fit_little_correct, "little_correct")
    fbc = _bool(fit_big_correct, "big_correct")
    evals = {k: (_probs(p), _bool(lc, "little_correct"), _bool(bc, "big_correct"))
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
    conf = np.asarray(conf, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.int64)
    lc, bc = _bool(little_correct, "little_correct"), _bool(big_correct, "big_correct")

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
        raise ValueError("soft labels must be (n, classes) rows of probabilities (CIFAR-10H)")
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
    from littlebig_utils.core.engine import split_indices
    rules = probs_rules(*fit, evals, kinds=kinds, seed=seed)
    calib, test = split_indices(len(fit[1]), calib_frac, seed=int(seed) + int(split))
    out = []
    for name, f in rules.items():
        score_fn = f(calib)
        for ev, (_, lc, bc) in evals.items():
            c = deferral_curve(score_fn(test, ev), np.asarray(lc)[test], np.asarray(bc)[test])
            out.append(c.assign(rule=name, eval=ev))
    return pd.concat(out, ignore_index=True)


# ------------------------------------------------------------------ the chapter's studies









def guarantee_by_score(fit: tuple, epsilon: float, delta: float, n_splits: int = 10,
                       calib_frac: float = 0.5, seed: int = 0, kind: str = "probs",
                       methods=("clopper-pearson", "wsr")) -> pd.DataFrame:
    """The guaranteed threshold on a learned keep-score as on confidence.

    For each random split of ``fit = (probs, little_correct, big_correct)``: the learned rule
    is fitted on one half of the calibration split and the threshold certified on the other
    half (a score must not be tuned on the data that certify it), then both are judged on the
    test split. `epsilon` is a fraction. Rows: split, score, method, threshold (NaN: big
    alone), frac_big and loss (fractions) on the test split, violated.
    """
    from littlebig_utils.core.engine import split_indices
    from littlebig_utils.core.ltt import guaranteed_threshold, wsr_threshold
    probs = _probs(fit[0])
    lc, bc = _bool(fit[1], "little_correct"), _bool(fit[2], "big_correct")
    rows = []
    for s in range(int(n_splits)):
        calib, test = split_indices(len(lc), calib_frac, seed=int(seed) + s)
        learn, cert = calib[::2], calib[1::2]
        rule = LearnedDeferral(kind, num_classes=probs.shape[1], seed=seed)
        rule.fit(probs[learn], lc[learn], bc[learn])
        scores = {"confidence": probs.max(1), f"learned ({kind})": rule(probs)}
        for name, sc in scores.items():
            for method in methods:
                if method == "wsr":
                    t = wsr_threshold(sc[cert], lc[cert], bc[cert], epsilon, delta, order_seed=s)
                else:
                    t = guaranteed_threshold(sc[cert], lc[cert], bc[cert], epsilon, delta,
                                             method).threshold
                to_big = sc[test] < (t if t is not None else np.inf)
                loss = bc[test].mean() - np.where(to_big, bc[test], lc[test]).mean()
                rows.append(dict(split=s, score=name, method=method,
                                 threshold=np.nan if t is None else t,
                                 frac_big=float(to_big.mean()), loss=float(loss),
                                 violated=bool(loss > epsilon + 1e-12)))
    return pd.DataFrame(rows)




