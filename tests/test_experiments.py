"""core.experiments: every study against a brute-force loop on small arrays (fast: mutation
testing runs these hundreds of times)."""
import numpy as np
import pandas as pd
import pytest

from littlebig_utils.core import engine, experiments, ltt, scores
from littlebig_utils.core.checks import InputError
from littlebig_utils.core.predictions import Predictions


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    conf = np.round(rng.random(n), 2)
    lc = rng.random(n) < 0.3 + 0.65 * conf
    bc = rng.random(n) < 0.85
    return conf, lc, bc


def _probs(n=240, k=4, seed=0):
    """Little: k classes; big right mostly on classes 0-1 (a specialist)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y]
    probs = scores.softmax(logits)
    lc = probs.argmax(1) == y
    bc = np.where(probs.argmax(1) < 2, rng.random(n) < 0.95, lc)
    return probs, lc, bc


# ------------------------------------------------------------------ split_study

def test_split_study_rows_equal_a_loop_with_costs_and_shifted_labels():
    conf, lc, bc = _data(400, seed=1)
    rng = np.random.default_rng(5)
    slc, sbc = rng.random(400) < 0.6, rng.random(400) < 0.8
    sv = rng.random(400) < 0.9
    df = experiments.split_study(conf, lc, bc, [0.0, 0.02], [0.1], n_splits=2, calib_frac=0.5,
                                 seed=3, little_gmacs=1.0, big_gmacs=4.0,
                                 shifted={"real": (slc, sbc, sv)})
    # per split: 2 max_losses x (no-loss, max-loss, guaranteed, oracle) x 2 label sets
    assert len(df) == 2 * 2 * 4 * 2
    assert set(df["labels"]) == {"original", "real"}
    for s in range(2):
        calib, test = engine.split_indices(400, 0.5, 3 + s)
        for labels, (l2, b2, v2) in {"original": (lc, bc, None), "real": (slc, sbc, sv)}.items():
            v = np.ones(len(test), bool) if v2 is None else v2[test]
            big_right = (b2[test] & v).sum()
            for _, r in df[(df["split"] == s) & (df["labels"] == labels)].iterrows():
                e = r["max_loss"]
                if r["rule"] == "oracle":
                    p = engine.max_loss_point(engine.sweep_arrays(conf[test], l2[test], b2[test],
                                                                  valid=v), e)
                    t = None if p is None else float(p["threshold"])
                elif r["rule"] == "guaranteed":
                    assert r["delta"] == 0.1
                    t = ltt.guaranteed_threshold(conf[calib], lc[calib], bc[calib], e, 0.1).threshold
                else:
                    assert np.isnan(r["delta"])
                    eps = 0.0 if r["rule"] == "empirical-no-loss" else e
                    t = ltt.empirical_threshold(conf[calib], lc[calib], bc[calib], eps).threshold
                assert r["found"] == (t is not None)
                assert r["big_accuracy"] == pytest.approx(big_right / v.sum())
                if t is None:
                    assert np.isnan(r["threshold"]) and r["frac_big"] == 1.0 and r["loss"] == 0.0
                    assert r["macs_reduction"] == 0.0 and r["n_lost"] == 0
                    assert r["accuracy"] == pytest.approx(big_right / v.sum())
                    continue
                to_big = conf[test] < t
                right = (np.where(to_big, b2[test], l2[test]) & v).sum()
                assert r["threshold"] == pytest.approx(t)
                assert r["accuracy"] == pytest.approx(right / v.sum())
                assert r["loss"] == pytest.approx((big_right - right) / v.sum())
                assert r["frac_big"] == pytest.approx(to_big.mean())
                assert r["macs_reduction"] == pytest.approx(1 - (1.0 + to_big.mean() * 4.0) / 4.0)
                assert r["n_lost"] == big_right - right
                assert r["violated"] == (big_right - right > e * v.sum() + 1e-9)


def test_split_study_big_alone_rows_and_no_costs():
    # a calibration side where no threshold is certified: big alone, no MACs column to fill
    conf, lc, bc = _data(60, seed=2)
    df = experiments.split_study(conf, lc, bc, 0.0, 0.01, n_splits=1, calib_frac=0.2, seed=0)
    g = df[df["rule"] == "guaranteed"].iloc[0]
    assert not g["found"] and np.isnan(g["threshold"]) and np.isnan(g["macs_reduction"])
    assert g["loss"] == 0.0 and g["frac_big"] == 1.0 and not g["violated"]
    found = df[df["found"]]
    assert len(found) and found["macs_reduction"].isna().all()


def test_split_study_names_bad_shifted_arrays():
    conf, lc, bc = _data(50)
    with pytest.raises(InputError, match="^real big_correct has 3 values, expected 50"):
        experiments.split_study(conf, lc, bc, 0.01, 0.1, 1, shifted={"real": (lc, bc[:3], None)})
    with pytest.raises(InputError, match="^real valid has 2 values, expected 50"):
        experiments.split_study(conf, lc, bc, 0.01, 0.1, 1, shifted={"real": (lc, bc, [1, 0])})
    with pytest.raises(InputError, match="^little_gmacs must be a finite positive number"):
        experiments.split_study(conf, lc, bc, 0.01, 0.1, 1, little_gmacs=0, big_gmacs=2.0)
    with pytest.raises(InputError, match="^big_gmacs must be a finite positive number"):
        experiments.split_study(conf, lc, bc, 0.01, 0.1, 1, little_gmacs=1.0, big_gmacs=-2.0)


# ------------------------------------------------------------------ heldout_study

def test_heldout_study_equals_a_loop_over_splits():
    conf, lc, bc = _data(200, seed=4)
    conf[:6] = 1.0  # never escalated: some calibration sides have no no-loss threshold
    lc[:6], bc[:6] = False, True
    df = experiments.heldout_study(conf, lc, bc, 1.0, 5.0, n_splits=6, calib_frac=0.3, seed=2)
    assert list(df["seed"]) == list(range(2, 8))
    assert df["threshold"].isna().any() and df["threshold"].notna().any()
    for i, seed in enumerate(range(2, 8)):
        cal, test = engine.split_indices(200, 0.3, seed)
        r = df.iloc[i]
        for col, side in (("threshold", cal), ("oracle_threshold", test)):
            p = engine.no_loss_point(engine.sweep_arrays(conf[side], lc[side], bc[side]))
            assert r[col] == pytest.approx(np.nan if p is None else p["threshold"], nan_ok=True)
        for t, acc_col, red_col in ((r["threshold"], "accuracy", "macs_reduction"),
                                    (r["oracle_threshold"], None, "oracle_macs_reduction")):
            to_big = conf[test] < (2.0 if np.isnan(t) else t)
            right = np.where(to_big, bc[test], lc[test])
            cost = 5.0 if np.isnan(t) else 1.0 + 5.0 * to_big.mean()
            assert r[red_col] == pytest.approx(1 - cost / 5.0)
            if acc_col:
                assert r["accuracy"] == pytest.approx(right.mean())
                assert r["big_accuracy"] == pytest.approx(bc[test].mean())
                assert r["change"] == pytest.approx(right.mean() - bc[test].mean())
                assert r["lost"] == (right.sum() < bc[test].sum())


def test_heldout_study_refuses_bad_arguments():
    conf, lc, bc = _data(50)
    with pytest.raises(InputError, match="^n_splits must be at least 1, got 0"):
        experiments.heldout_study(conf, lc, bc, 1.0, 2.0, n_splits=0)
    with pytest.raises(InputError, match="^calib_frac must lie strictly between 0 and 1"):
        experiments.heldout_study(conf, lc, bc, 1.0, 2.0, n_splits=2, calib_frac=1.5)
    with pytest.raises(InputError, match="^big_correct has 3 values"):
        experiments.heldout_study(conf, lc, bc[:3], 1.0, 2.0)


# ------------------------------------------------------------------ guarantee_study

def test_guarantee_study_columns_and_oracle_by_brute_force():
    conf, lc, bc = _data(300, seed=6)
    df = experiments.guarantee_study(conf, lc, bc, 1.0, 4.0, 0.02, 0.2, n_calib=150, draws=3,
                                     seed=1, methods=("clopper-pearson",))
    assert list(df["draw"]) == [0, 1, 2]
    at = experiments.population_curve(conf, lc, bc)
    cands = engine.candidate_thresholds(conf)
    ok = [t for t in cands if at(t)[0] * 300 <= 0.02 * 300 + 1e-9]
    oracle_t = min(ok, key=lambda t: (at(t)[1], t))
    oracle_saving = 1 - (1.0 + at(oracle_t)[1] * 4.0) / 4.0
    assert (df["oracle_threshold"] == oracle_t).all()
    assert df["oracle_saving"].to_numpy() == pytest.approx([oracle_saving] * 3)
    assert (df["found"] == df["threshold"].notna()).all()
    for _, r in df.iterrows():
        if r["found"]:
            risk, frac = at(r["threshold"])
            assert (r["risk"], r["frac_big"]) == pytest.approx((risk, frac))
            assert r["saving"] == pytest.approx(1 - (1.0 + frac * 4.0) / 4.0)
        else:
            assert (r["risk"], r["frac_big"], r["saving"]) == (0.0, 1.0, 0.0)
        assert r["kept"] == pytest.approx(r["saving"] / oracle_saving)


def test_guarantee_study_refuses_a_pair_whose_oracle_saves_nothing():
    conf, lc, bc = _data(100)
    with pytest.raises(InputError, match="saves no MACs"):  # little costs as much as big
        experiments.guarantee_study(conf, lc, bc, 4.0, 4.0, 0.02, 0.1, n_calib=50, draws=1)
    with pytest.raises(InputError, match="^little_gmacs must be"):
        experiments.guarantee_study(conf, lc, bc, None, 4.0, 0.02, 0.1)
    with pytest.raises(InputError, match="^big_gmacs must be"):
        experiments.guarantee_study(conf, lc, bc, 1.0, "x", 0.02, 0.1)


# ------------------------------------------------------------------ pairs of reference models

def _records(n=300, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    ids = [f"s{i}" for i in range(n)]
    out = {}
    for name, p_right, g in (("A", 0.45, 1.0), ("B", 0.55, 2.0), ("C", 0.7, 5.0), ("D", 0.9, 9.0)):
        conf = np.round(rng.uniform(size=n), 2)
        right = rng.uniform(size=n) < p_right * (0.5 + conf)
        preds = np.where(right, labels, (labels + 1) % 5)
        out[name] = Predictions(ids, labels, preds, conf, model={"name": name, "gmacs": g})
    return out


def test_eligible_pairs_filters_and_ranks_the_pairs_table():
    from littlebig_utils.core.pairs import pairs_table
    recs = _records()
    gmacs = {k: r.model["gmacs"] for k, r in recs.items()}
    pairs = pairs_table(recs, gmacs)
    want = pairs[~pairs["degenerate"].astype(bool) & pairs["threshold"].notna()
                 & (pairs["big_accuracy"] - pairs["little_accuracy"] > 0.1)]
    got = experiments.eligible_pairs(recs, gmacs, 0.1)
    assert 2 <= len(got) < len(pairs)
    assert list(got.index) == list(range(len(got)))
    assert sorted(zip(got["little"], got["big"])) == sorted(zip(want["little"], want["big"]))
    assert (np.diff(got["macs_reduction"].to_numpy()) <= 0).all()
    assert got["macs_reduction"].iloc[0] == want["macs_reduction"].max()
    top = experiments.eligible_pairs(recs, gmacs, 0.1, k=1)
    assert len(top) == 1 and top.iloc[0].equals(got.iloc[0])


def test_guarantee_pairs_is_guarantee_study_per_pair_and_its_summary():
    recs = _records()
    pairs = pd.DataFrame({"little": ["A", "B"], "big": ["D", "D"]})
    mc, s = experiments.guarantee_pairs(recs, pairs, 0.08, 0.4, n_calib=30, draws=3, seed=2)
    runs = []
    for lit, big in (("A", "D"), ("B", "D")):
        one = experiments.guarantee_study(recs[lit].conf, recs[lit].correct, recs[big].correct,
                                          recs[lit].model["gmacs"], 9.0, 0.08, 0.4, 30, 3, 2)
        runs.append(one.assign(pair=f"{lit} -> {big}"))
    pd.testing.assert_frame_equal(mc, pd.concat(runs, ignore_index=True))
    assert list(s["pair"]) == ["A -> D", "A -> D", "B -> D", "B -> D"]
    assert 0 < s["violation"].max() < 1  # a standard error that is not 0
    for _, r in s.iterrows():
        g = mc[(mc["pair"] == r["pair"]) & (mc["method"] == r["method"])]
        assert r["kept"] == pytest.approx(g["kept"].mean())
        assert r["violation"] == pytest.approx(g["violated"].mean())
        assert r["found"] == pytest.approx(g["found"].mean())
        assert r["draws"] == 3 and r["oracle_saving"] == g["oracle_saving"].iloc[0]
        v = g["violated"].mean()
        assert r["violation_se"] == pytest.approx(np.sqrt(v * (1 - v) / 3))


# ------------------------------------------------------------------ deferral studies

def test_deferral_study_rows_equal_curves_of_each_split_and_eval_set():
    probs, lc, bc = _probs(120)
    rng = np.random.default_rng(3)
    other = (rng.random(120) < 0.5, rng.random(120) < 0.7)
    rules = {"confidence": lambda calib: (lambda idx, ev: probs[idx].max(1)),
             "oracle": lambda calib: (lambda idx, ev: scores.oracle_score(
                 *({"original": (lc, bc), "other": other}[ev]))[idx])}
    st = experiments.deferral_study(rules, lc, bc, n_splits=2, calib_frac=0.4, seed=1,
                                    shares=(0.1, 0.5), eval_sets={"original": (lc, bc),
                                                                  "other": other})
    assert len(st) == 2 * 2 * 2 * 3
    for s in range(2):
        _, test = engine.split_indices(120, 0.4, 1 + s)
        for ev, (l2, b2) in {"original": (lc, bc), "other": other}.items():
            for name, fit in rules.items():
                c = engine.deferral_curve(fit(None)(test, ev), l2[test], b2[test])
                rows = st[(st["split"] == s) & (st["rule"] == name) & (st["eval"] == ev)]
                at = rows[rows["share"].notna()]
                assert list(at["share"]) == [0.1, 0.5] and at["auc"].isna().all()
                np.testing.assert_allclose(at["accuracy"], engine.accuracy_at(c, [0.1, 0.5]))
                area = rows[rows["share"].isna()]
                assert len(area) == 1 and np.isnan(area["accuracy"].iloc[0])
                assert area["auc"].iloc[0] == pytest.approx(engine.curve_area(c))
    default = experiments.deferral_study(rules, lc, bc, n_splits=1, calib_frac=0.4, seed=1,
                                         shares=(0.1, 0.5))
    assert set(default["eval"]) == {"original"}
    pd.testing.assert_frame_equal(
        default.reset_index(drop=True),
        st[(st["split"] == 0) & (st["eval"] == "original")].reset_index(drop=True))


def _study():
    rows = []
    for split in range(3):
        for rule, base in (("confidence", 0.70), ("learned", 0.72)):
            for ev in ("original", "other"):
                for share in (0.1, 0.2):
                    acc = base + 0.01 * split + share / 10 + (ev == "other") * 0.05
                    if rule == "learned" and split == 1:
                        acc -= 0.03
                    rows.append(dict(split=split, rule=rule, eval=ev, share=share,
                                     accuracy=acc, auc=np.nan))
                rows.append(dict(split=split, rule=rule, eval=ev, share=np.nan,
                                 accuracy=np.nan, auc=0.5))
    return pd.DataFrame(rows)


def test_summarize_deferral_by_hand():
    st = _study()
    out = experiments.summarize_deferral(st)
    assert list(out.columns) == ["eval", "share", "rule", "mean", "min", "max", "q05", "q95"]
    assert len(out) == 2 * 2 * 2
    for _, r in out.iterrows():
        a = st[(st["eval"] == r["eval"]) & (st["share"] == r["share"])
               & (st["rule"] == r["rule"])]["accuracy"].to_numpy()
        assert len(a) == 3
        assert (r["mean"], r["min"], r["max"]) == pytest.approx((a.mean(), a.min(), a.max()))
        assert (r["q05"], r["q95"]) == pytest.approx(tuple(np.quantile(a, [0.05, 0.95])))


def test_paired_gain_by_hand():
    st = _study()
    g = experiments.paired_gain(st, "learned")
    assert list(g.columns) == ["eval", "share", "mean", "min", "max"] and len(g) == 4
    # gains per split: +0.02, -0.01, +0.02 at every (eval, share)
    np.testing.assert_allclose(g["mean"], 0.01)
    np.testing.assert_allclose(g["min"], -0.01)
    np.testing.assert_allclose(g["max"], 0.02)
    back = experiments.paired_gain(st, "confidence", baseline="learned")
    np.testing.assert_allclose(back["mean"], -0.01)
    with pytest.raises(KeyError, match="rule 'mlp' or baseline 'confidence'"):
        experiments.paired_gain(st, "mlp")


def test_probs_rules_score_as_their_definitions():
    probs, lc, bc = _probs(160)
    rng = np.random.default_rng(1)
    p2 = scores.softmax(rng.normal(size=(160, 4)))
    l2, b2 = rng.random(160) < 0.5, rng.random(160) < 0.6
    evals = {"original": (probs, lc, bc), "other": (p2, l2, b2)}
    rules = experiments.probs_rules(probs, lc, bc, evals, kinds=("probs",), seed=3)
    assert list(rules) == ["oracle", "confidence", "learned (probs)"]
    calib, idx = np.arange(0, 160, 2), np.arange(1, 160, 2)
    np.testing.assert_array_equal(rules["oracle"](calib)(idx, "other"),
                                  scores.oracle_score(l2[idx], b2[idx]))
    np.testing.assert_array_equal(rules["confidence"](calib)(idx, "other"), p2[idx].max(1))
    want = scores.LearnedDeferral("probs", num_classes=4, seed=3).fit(
        probs[calib], lc[calib], bc[calib])
    learned = rules["learned (probs)"](calib)
    np.testing.assert_allclose(learned(idx, "other"), want(p2[idx]))
    np.testing.assert_allclose(learned(idx, "original"), want(probs[idx]))


def test_probs_rules_name_bad_inputs():
    probs, lc, bc = _probs(40)
    with pytest.raises(InputError, match="^probs of bad: inputs='probs' needs rows"):
        experiments.probs_rules(probs, lc, bc, {"bad": (probs * 2, lc, bc)})
    with pytest.raises(InputError, match="^big_correct of bad has 3 values, expected 40"):
        experiments.probs_rules(probs, lc, bc, {"bad": (probs, lc, bc[:3])})
    with pytest.raises(InputError, match="^little_correct of bad has 3 values"):
        experiments.probs_rules(probs, lc, bc, {"bad": (probs, lc[:3], bc)})
    with pytest.raises(InputError, match="^fit_probs: inputs='probs'"):
        experiments.probs_rules(-probs, lc, bc, {})
    with pytest.raises(InputError, match="^big_correct has 3 values"):
        experiments.probs_rules(probs, lc, bc[:3], {})


def test_conf_pred_rules_score_as_their_definitions():
    probs, lc, bc = _probs(160)
    conf, pred = probs.max(1), probs.argmax(1)
    rules = experiments.conf_pred_rules(conf, pred, lc, bc, num_classes=6, seed=1)
    assert list(rules) == ["oracle", "confidence", "learned (per-class)"]
    calib, idx = np.arange(0, 160, 2), np.arange(1, 160, 2)
    np.testing.assert_array_equal(rules["oracle"](calib)(idx, "x"),
                                  scores.oracle_score(lc[idx], bc[idx]))
    np.testing.assert_array_equal(rules["confidence"](calib)(idx, "x"), conf[idx])
    want = scores.LearnedDeferral("per-class", num_classes=6, seed=1).fit_conf_pred(
        conf[calib], pred[calib], lc[calib], bc[calib])
    assert want.C_ == 0.003  # seed 0's folds choose 0.3 on these data: the seed reaches the rule
    got = rules["learned (per-class)"](calib)(idx, "x")
    np.testing.assert_allclose(got, want.score_conf_pred(conf[idx], pred[idx]))
    with pytest.raises(InputError, match=r"^pred must lie in \[0, 3\)"):
        experiments.conf_pred_rules(conf, pred, lc, bc, num_classes=3)
    with pytest.raises(InputError, match="^big_correct has 2 values, expected 160"):
        experiments.conf_pred_rules(conf, pred, lc, bc[:2], num_classes=6)
    with pytest.raises(InputError, match="^little_correct has 2 values"):
        experiments.conf_pred_rules(conf, pred, lc[:2], bc, num_classes=6)


def test_human_labels_are_the_inverse_cdf_of_one_uniform_per_image():
    soft = np.array([[0.7, 0.2, 0.1, 0.0], [0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.25, 0.25],
                     [0.0, 0.0, 0.0, 1.0]] * 5)
    y = experiments.human_labels(soft, seed=4)
    u = np.random.default_rng(4).random(len(soft))
    want = [int(np.searchsorted(np.cumsum(row), x, side="right")) for row, x in zip(soft, u)]
    np.testing.assert_array_equal(y, np.minimum(want, 3))
    assert y.dtype == np.int64
    assert (y[3::4] == 3).all() and set(y[1::4]) <= {2, 3}
    for bad in ([[0.5, 0.6]], [[1.2, -0.2]], [0.5, 0.5]):
        with pytest.raises(InputError, match="CIFAR-10H"):
            experiments.human_labels(np.array(bad))


def test_regime_study_is_deferral_study_of_probs_rules():
    probs, lc, bc = _probs(100)
    evals = {"original": (probs, lc, bc), "flipped": (probs, bc, lc)}
    got = experiments.regime_study((probs, lc, bc), evals, n_splits=2, seed=1, shares=(0.2,),
                                   kinds=())
    rules = experiments.probs_rules(probs, lc, bc, evals, kinds=(), seed=1)
    want = experiments.deferral_study(rules, lc, lc, 2, 0.5, 1, (0.2,),
                                      {"original": (lc, bc), "flipped": (bc, lc)})
    pd.testing.assert_frame_equal(got, want)


def test_example_curves_are_the_deferral_curves_of_one_split():
    probs, lc, bc = _probs(100)
    evals = {"original": (probs, lc, bc), "flipped": (probs, bc, lc)}
    got = experiments.example_curves((probs, lc, bc), evals, calib_frac=0.3, seed=2, split=1,
                                     kinds=())
    _, test = engine.split_indices(100, 0.3, 3)
    parts = []
    for rule, sc in (("oracle", None), ("confidence", probs[test].max(1))):
        for ev, (_, l2, b2) in evals.items():
            s = scores.oracle_score(l2[test], b2[test]) if sc is None else sc
            parts.append(engine.deferral_curve(s, l2[test], b2[test]).assign(rule=rule, eval=ev))
    want = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    assert list(got.index) == list(range(len(got)))


def test_guarantee_by_score_every_row_by_hand():
    probs, lc, bc = _probs(300, seed=2)
    df = experiments.guarantee_by_score((probs, lc, bc), 0.05, 0.2, n_splits=1, calib_frac=0.6,
                                        seed=1, kind="probs")
    assert list(df["score"]) == ["confidence"] * 2 + ["learned (probs)"] * 2
    assert list(df["method"]) == ["clopper-pearson", "wsr"] * 2 and (df["split"] == 0).all()
    calib, test = engine.split_indices(300, 0.6, 1)
    learn, cert = calib[::2], calib[1::2]
    rule = scores.LearnedDeferral("probs", num_classes=4, seed=1).fit(probs[learn], lc[learn],
                                                                     bc[learn])
    for name, sc in (("confidence", probs.max(1)), ("learned (probs)", rule(probs))):
        for method in ("clopper-pearson", "wsr"):
            if method == "wsr":
                t = ltt.wsr_threshold(sc[cert], lc[cert], bc[cert], 0.05, 0.2, order_seed=0)
            else:
                t = ltt.guaranteed_threshold(sc[cert], lc[cert], bc[cert], 0.05, 0.2).threshold
            r = df[(df["score"] == name) & (df["method"] == method)].iloc[0]
            assert r["threshold"] == pytest.approx(np.nan if t is None else t, nan_ok=True)
            to_big = sc[test] < (np.inf if t is None else t)
            n_lost = bc[test].sum() - np.where(to_big, bc[test], lc[test]).sum()
            assert r["frac_big"] == pytest.approx(to_big.mean())
            assert r["loss"] == pytest.approx(n_lost / len(test))
            assert r["violated"] == (n_lost > 0.05 * len(test) + 1e-9)
    with pytest.raises(InputError, match="^big_correct has 2 values"):
        experiments.guarantee_by_score((probs, lc, bc[:2]), 0.05, 0.2)
    with pytest.raises(InputError, match="^little_correct has 2 values"):
        experiments.guarantee_by_score((probs, lc[:2], bc), 0.05, 0.2)
