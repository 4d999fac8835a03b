"""N-stage cascades against a per-sample loop, and the 2-stage case against engine.sweep."""
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from hypothesis_budget import examples
from littlebig_utils.core import multistage
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core import engine

VALUES = [0.0, 0.2, 0.5, 0.5, 0.8, 1.0]  # ties, 0 and 1 frequent


def brute_force(confs, corrects, gmacs, thresholds, valid):
    """Straight from the definition: walk each sample through the stages."""
    n_correct, cost, reach = 0, 0.0, np.zeros(len(corrects), int)
    for i in range(len(corrects[0])):
        for k in range(len(corrects)):
            cost += gmacs[k]
            reach[k] += 1
            if k == len(corrects) - 1 or confs[k][i] >= thresholds[k]:
                n_correct += int(corrects[k][i] and valid[i])
                break
    return n_correct, cost / len(corrects[0]), reach


case = st.tuples(st.integers(2, 4), st.integers(1, 60)).flatmap(lambda sn: st.tuples(
    arrays(np.float64, (sn[0], sn[1]), elements=st.sampled_from(VALUES)),
    arrays(bool, (sn[0], sn[1])), arrays(bool, sn[1])))


@settings(max_examples=examples(150), deadline=None)
@given(case)
def test_grid_equals_per_sample_loop(data):
    confs, corrects, valid = data
    valid[0] = True
    n_stages = len(corrects)
    gmacs = [1.0, 2.5, 7.0, 20.0][:n_stages]
    grids = [[0.0, 0.2, 0.5, 0.9, 1.0]] * (n_stages - 1)
    table = multistage.evaluate_grid(list(confs), list(corrects), gmacs, grids, valid)
    assert len(table) == 5 ** (n_stages - 1)
    for _, row in table.iterrows():
        t = [row[f"threshold_{k + 1}"] for k in range(n_stages - 1)]
        n_correct, cost, reach = brute_force(confs, corrects, gmacs, t, valid)
        assert row["n_correct"] == n_correct
        assert row["gmacs"] == pytest.approx(cost)
        for k in range(2, n_stages + 1):
            assert row[f"n_reach_{k}"] == reach[k - 1]
        one = multistage.evaluate(list(confs), list(corrects), gmacs, t, valid)
        assert one["n_correct"] == n_correct and one["gmacs"] == pytest.approx(cost)
        assert one["frac_exit"].sum() == pytest.approx(1.0)


@settings(max_examples=examples(150), deadline=None)
@given(st.integers(1, 200).flatmap(lambda n: st.tuples(
    arrays(np.float64, n, elements=st.sampled_from(VALUES)), arrays(bool, n), arrays(bool, n),
    arrays(bool, n))))
def test_two_stages_reduce_exactly_to_cascade_sweep(data):
    conf, lc, bc, valid = data
    valid[0] = True
    ref = engine.sweep_arrays(conf, lc, bc, valid=valid, little_gmacs=1.5, big_gmacs=6.0)
    got = multistage.evaluate_grid([conf], [lc, bc], [1.5, 6.0], [engine.candidate_thresholds(conf)],
                                   valid)
    assert np.array_equal(got["threshold_1"], ref["threshold"])
    assert np.array_equal(got["n_reach_2"], ref["n_big"])
    assert np.array_equal(got["n_correct"], ref["n_correct"])
    np.testing.assert_allclose(got["accuracy"], ref["accuracy"])
    np.testing.assert_allclose(got["frac_reach_2"], ref["frac_big"])
    assert np.array_equal(got["gmacs"], ref["gmacs"])
    np.testing.assert_allclose(got["macs_reduction"], ref["macs_reduction"])
    p, q = multistage.no_loss_point(got), engine.no_loss_point(ref)
    assert (p is None) == (q is None)
    if p is not None:
        assert p["threshold_1"] == q["threshold"] and p["gmacs"] == q["gmacs"]


def test_two_stages_on_real_pair_match_sweep_no_loss_point():
    from littlebig_utils.data import registry as data
    a = data.load_imagenet_predictions("mixnet_m")
    b = data.load_imagenet_predictions("resnext50_32x4d")
    grid = engine.candidate_thresholds(a.conf)
    got = multistage.no_loss_point(multistage.evaluate_grid([a.conf], [a.correct, b.correct],
                                                            [0.34, 4.23], [grid]))
    ref = engine.no_loss_point(engine.sweep(a, b, little_gmacs=0.34, big_gmacs=4.23))
    assert got["threshold_1"] == ref["threshold"] and got["n_correct"] == ref["n_correct"]


def _records(n=600, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    ids = [f"x{i}" for i in range(n)]
    hard = rng.uniform(size=n)
    out, gm = {}, {}
    for k, (skill, g) in enumerate([(0.2, 1.0), (0.45, 3.0), (0.6, 9.0), (0.8, 30.0)]):
        right = rng.uniform(size=n) < np.clip(skill + 0.5 - hard, 0, 1)
        conf = np.clip(0.5 * right + 0.5 * rng.uniform(size=n), 0, 1)
        name = f"m{k}"
        out[name] = Predictions(ids, labels, np.where(right, labels, (labels + 1) % 10), conf,
                                model={"name": name})
        gm[name] = g
    return out, gm


def test_search_finds_the_grid_optimum_and_respects_pruning():
    recs, gm = _records()
    levels = np.linspace(0, 1, 21)
    res = multistage.search(recs, gm, n_stages=3, levels=levels)
    assert len(res) == 1 + 3  # pairs of cheaper models: m2 has 1, m3 has 3, m0 and m1 none
    for _, row in res.iterrows():
        stages = row["stages"].split(" \u2192 ")
        assert [gm[s] for s in stages] == sorted(gm[s] for s in stages)
        grids = [multistage.threshold_grid(recs[s].conf, levels) for s in stages[:-1]]
        confs = [recs[s].conf for s in stages[:-1]]
        corr = [recs[s].correct for s in stages]
        g = [gm[s] for s in stages]
        # exhaustive loop over the same grid, one evaluate() per combination
        best = None
        for t in itertools.product(*grids):
            r = multistage.evaluate(confs, corr, g, t)
            if r["n_correct"] >= corr[-1].sum() and (best is None or r["gmacs"] < best[0] - 1e-12):
                best = (r["gmacs"], t, r["accuracy"])
        if best is None:
            assert np.isnan(row["gmacs"])
        else:
            assert row["gmacs"] == pytest.approx(best[0]) and row["thresholds"] == best[1]
            assert row["accuracy"] == pytest.approx(best[2])
            assert row["accuracy"] >= row["big_accuracy"] - 1e-9
    pruned = multistage.search(recs, gm, n_stages=3, levels=levels, prune_above={"m3": 3.0})
    assert set(pruned[pruned.big == "m3"]["stages"]) == {"m0 \u2192 m1 \u2192 m3",
                                                         "m0 \u2192 m2 \u2192 m3"}


def test_misuse_is_refused():
    with pytest.raises(ValueError, match="two stages"):
        multistage.evaluate_grid([], [np.ones(3, bool)], [1.0], [])
    with pytest.raises(ValueError, match="thresholds"):
        multistage.evaluate([np.ones(3)], [np.ones(3, bool)] * 2, [1.0, 2.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="threshold"):
        multistage.evaluate_grid([np.ones(3)], [np.ones(3, bool)] * 2, [1.0, 2.0], [[0.5, 1.5]])


def test_search_scores_against_supplied_correctness_and_refuses_misaligned_records():
    recs, gm = _records(n=300, seed=2)
    levels = np.linspace(0, 1, 11)
    # every model right everywhere: threshold 0 (the cheapest stage answers all) is no-loss,
    # and every combination is degenerate
    right = {k: np.ones(300, bool) for k in recs}
    res = multistage.search(recs, gm, n_stages=3, levels=levels, correct=right)
    assert res["degenerate"].all() and (res["thresholds"].map(lambda t: t[0]) == 0.0).all()
    assert np.allclose(res["gmacs"], [gm[s.split(" \u2192 ")[0]] for s in res["stages"]])
    shuffled = dict(recs, m1=recs["m1"].subset(np.arange(300)[::-1]))
    with pytest.raises(ValueError, match=r"^the records list their samples in different orders; "
                       r"`correct` and `valid` need records in one order \(align them first\)$"):
        multistage.search(shuffled, gm, n_stages=3, levels=levels, correct=right)


@pytest.mark.parametrize("m", [240, 11, 3])
def test_default_levels_are_half_geometric_half_linear(m):
    """Escalation fractions: 0, m // 2 geometric in [1e-4, 1] and m - m // 2 linear in [0, 1]."""
    levels = multistage.default_levels(m)
    want = np.unique(np.r_[0.0, np.geomspace(1e-4, 1.0, m // 2), np.linspace(0, 1, m - m // 2)])
    np.testing.assert_array_equal(levels, want)
    assert levels[0] == 0.0 and levels[-1] == 1.0 and (np.diff(levels) > 0).all()
    np.testing.assert_array_equal(multistage.default_levels(), multistage.default_levels(240))


def test_threshold_grid_takes_the_confidence_at_each_rank():
    conf = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.35]  # a list, unsorted
    sc = np.sort(conf)
    # fraction f escalates floor(f n) samples: the threshold is the confidence at that rank
    np.testing.assert_array_equal(multistage.threshold_grid(conf, [0.0, 0.25, 0.5]),
                                  np.unique([0.0, 1.0, sc[0], sc[2], sc[5]]))
    # fractions outside [0, 1] are clamped to the extreme ranks
    np.testing.assert_array_equal(multistage.threshold_grid(conf, [-0.5, 1.5]),
                                  [0.0, sc[0], sc[-1], 1.0])
    # the default levels: 0, 1 and the confidence at every default rank
    want = np.unique(np.r_[0.0, 1.0, sc[np.clip(np.floor(multistage.default_levels() * 10)
                                                 .astype(int), 0, 9)]])
    np.testing.assert_array_equal(multistage.threshold_grid(conf), want)


def test_search_every_column_against_a_loop_with_valid_bigs_and_pruning():
    """Names in reverse cost order (stages must follow cost, not names); a first stage that is
    always wrong and always sure (no combination starting with it reaches the big model);
    `valid` masks samples; `bigs` picks the big models; pruning at a first stage's exact cost."""
    rng = np.random.default_rng(11)
    n = 300
    labels = rng.integers(0, 10, n)
    ids = [f"x{i}" for i in range(n)]
    gm = {"e": 0.5, "d": 1.0, "c": 3.0, "b": 9.0, "a": 30.0}
    skill = {"e": None, "d": 0.35, "c": 0.75, "b": 0.6, "a": 0.7}  # c beats b: degenerate rows
    recs = {}
    for name in ["a", "b", "c", "d", "e"]:
        if skill[name] is None:  # always wrong, always sure
            right, conf = np.zeros(n, bool), np.ones(n)
        else:
            right = rng.uniform(size=n) < skill[name]
            conf = np.clip(0.5 * right + 0.5 * rng.uniform(size=n), 0, 1)
        recs[name] = Predictions(ids, labels, np.where(right, labels, (labels + 1) % 10), conf,
                                 model={"name": name})
    valid = rng.uniform(size=n) < 0.8
    levels = np.linspace(0, 1, 6)
    res = multistage.search(recs, gm, bigs=["a", "b"], levels=levels, valid=valid,
                            prune_above={"a": 1.0})
    assert list(res.columns) == multistage.SEARCH_COLUMNS
    expected = []
    for big in ["a", "b"]:
        cheaper = sorted((k for k in gm if gm[k] < gm[big]), key=gm.get)
        for combo in itertools.combinations(cheaper, 2):
            if big == "a" and gm[combo[0]] >= 1.0:
                continue
            expected.append(list(combo) + [big])
    assert [s.split(" \u2192 ") for s in res["stages"]] == expected
    found_none = False
    for (_, row), stages in zip(res.iterrows(), expected):
        corr = [recs[s].correct for s in stages]
        big = stages[-1]
        grids = [multistage.threshold_grid(recs[s].conf, levels) for s in stages[:-1]]
        confs = [recs[s].conf for s in stages[:-1]]
        g = [gm[s] for s in stages]
        big_n = (corr[-1] & valid).sum()
        best = None
        for t in itertools.product(*grids):
            r = multistage.evaluate(confs, corr, g, t, valid=valid)
            if r["n_correct"] >= big_n and (best is None or r["gmacs"] < best[0] - 1e-12):
                best = (r["gmacs"], t, r)
        assert row["n_stages"] == 3 and row["big_gmacs"] == gm[big]
        assert row["big_accuracy"] == pytest.approx(big_n / valid.sum())
        assert row["n_combinations"] == len(grids[0]) * len(grids[1])
        assert row["degenerate"] == bool(max((c & valid).sum() for c in corr[:-1]) >= big_n)
        if best is None:
            found_none = True
            assert row["thresholds"] is None
            for k in ["accuracy", "gmacs", "macs_reduction", "frac_reach_last"]:
                assert np.isnan(row[k]), k
            continue
        cost, t, r = best
        assert row["thresholds"] == t
        assert row["accuracy"] == pytest.approx(r["accuracy"])
        assert row["gmacs"] == pytest.approx(cost)
        assert row["macs_reduction"] == pytest.approx(1 - cost / gm[big])
        assert row["frac_reach_last"] == pytest.approx(r["frac_exit"][-1])
    assert found_none and res["degenerate"].any() and not res["degenerate"].all()


def test_each_stage_is_named_in_its_error():
    c, r = np.full(4, 0.5), np.ones(4, bool)
    with pytest.raises(ValueError, match=r"^conf of stage 2 must lie in \[0, 1\]"):
        multistage.evaluate([c, c * 3], [r, r, r], [1.0, 2.0, 3.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="^conf of stage 1 has 3 values, expected 4"):
        multistage.evaluate([c[:3]], [r, r], [1.0, 2.0], [0.5])
    with pytest.raises(ValueError, match="^correct of stage 3 has 2 values, expected 4"):
        multistage.evaluate([c, c], [r, r, r[:2]], [1.0, 2.0, 3.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="^correct of stage 2 must be booleans"):
        multistage.evaluate([c], [r, r * 2], [1.0, 2.0], [0.5])
    with pytest.raises(ValueError, match="^cost of stage 2 must be a finite positive number"):
        multistage.evaluate([c], [r, r], [1.0, 0.0], [0.5])
    with pytest.raises(ValueError, match="^cost of stage 1 must be a finite positive number"):
        multistage.evaluate_grid([c], [r, r], [-1.0, 2.0], [[0.5]])
    with pytest.raises(ValueError, match="^3 costs for 2 stages$"):
        multistage.evaluate([c], [r, r], [1.0, 2.0, 3.0], [0.5])
    with pytest.raises(ValueError, match="^3 confidence arrays for 2 stages"):
        multistage.evaluate([c, c, c], [r, r], [1.0, 2.0], [0.5])
    with pytest.raises(ValueError, match="^valid has 3 values, expected 4"):
        multistage.evaluate([c], [r, r], [1.0, 2.0], [0.5], valid=r[:3])
    with pytest.raises(ValueError, match="^3 stages need 2 threshold grids, got 1$"):
        multistage.evaluate_grid([c, c], [r, r, r], [1.0, 2.0, 3.0], [[0.5]])


def test_search_without_a_no_loss_combination_keeps_numeric_empty_columns():
    recs, gm = _records(n=60, seed=1)
    wrong = {k: np.zeros(60, bool) for k in recs}
    last = sorted(gm, key=gm.get)[-1]
    wrong[last] = np.ones(60, bool)  # only the big model is ever right, and the cheaper ones
    recs = {k: r if k == last else Predictions(r.sample_ids, r.labels, r.preds, np.ones(60),
                                               model=r.model)
            for k, r in recs.items()}  # are sure (conf 1): never escalated, no no-loss point
    levels = np.linspace(0, 1, 3)
    res = multistage.search(recs, gm, n_stages=3, bigs=[last], levels=levels, correct=wrong)
    assert len(res) and res["thresholds"].isna().all()
    for col in ("accuracy", "gmacs", "macs_reduction", "frac_reach_last"):
        assert res[col].dtype == np.float64 and res[col].isna().all(), col
    assert (res["big_gmacs"] == gm[last]).all() and (res["big_accuracy"] == 1.0).all()


def test_evaluate_grid_columns():
    c, r = np.array([0.2, 0.6, 0.9]), np.array([True, False, True])
    g = multistage.evaluate_grid([c], [r, ~r], [1.0, 3.0], [[0.5]], valid=[True, True, False])
    assert list(g.columns) == ["threshold_1", "n_correct", "accuracy", "n_reach_2",
                               "frac_reach_2", "gmacs", "macs_reduction", "n", "n_valid",
                               "big_n_correct", "stage_1_n_correct", "stage_2_n_correct"]
    row = g.iloc[0]  # T = 0.5: sample 0 goes to stage 2 (wrong there), 1 and 2 stay
    assert (row["n"], row["n_valid"], row["n_reach_2"], row["n_correct"]) == (3, 2, 1, 0)
    assert row["accuracy"] == 0.0 and row["gmacs"] == pytest.approx(1.0 + 3.0 / 3)
