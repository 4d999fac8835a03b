"""Table 2 (best little per big), Pareto frontiers and the explorer data, against brute force."""
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from hypothesis_budget import examples

from littlebig_utils.core import pairs as pt
from littlebig_utils.book import explorer
from littlebig_utils.data import reference
from littlebig_utils.core.predictions import Predictions
from reference_impl import pairs_table_per_pair


# ---------------------------------------------------------------- best little per big
def brute_best(pairs, degenerate):
    """For each big, loop over its pairs and keep the best by the documented rule."""
    best = {}
    for _, r in pairs.iterrows():
        if bool(r["degenerate"]) != degenerate or pd.isna(r["macs_reduction"]):
            continue
        key = (r["macs_reduction"], r["accuracy"], [-ord(c) for c in r["little"]])
        if r["big"] not in best or key > best[r["big"]][0]:
            best[r["big"]] = (key, r["little"])
    return {big: little for big, (_, little) in best.items()}


def random_pairs(rng, n_models=7):
    names = [f"m{i}" for i in range(n_models)]
    g = dict(zip(names, rng.uniform(0.1, 10, n_models)))
    acc = dict(zip(names, rng.uniform(70, 80, n_models)))
    rows = []
    for a in names:
        for b in names:
            if g[a] < g[b]:
                reached = rng.random() < 0.8
                frac = rng.choice([0.1, 0.2, 0.3]) if reached else np.nan  # ties on purpose
                rows.append(dict(little=a, big=b, threshold=0.5 if reached else np.nan,
                                 accuracy=acc[b] + rng.choice([0.0, 0.1]) if reached else np.nan,
                                 little_accuracy=acc[a], big_accuracy=acc[b],
                                 gmacs=g[a] + frac * g[b], little_gmacs=g[a], big_gmacs=g[b],
                                 macs_reduction=1 - (g[a] + frac * g[b]) / g[b],
                                 frac_big=frac, degenerate=acc[a] >= acc[b]))
    return pd.DataFrame(rows, columns=pt.PAIR_COLUMNS)


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(0, 10_000))
def test_best_little_per_big_equals_brute_force(seed):
    pairs = random_pairs(np.random.default_rng(seed))
    for degenerate in (False, True):
        table = pt.best_little_per_big(pairs, degenerate=degenerate)
        assert dict(zip(table["big"], table["little"])) == brute_best(pairs, degenerate)
        assert (table["degenerate"] == degenerate).all()
        assert table["big_gmacs"].is_monotonic_increasing


def test_best_little_per_big_refuses_other_tables():
    with pytest.raises(KeyError, match="pairs table"):
        pt.best_little_per_big(pd.DataFrame({"little": ["a"], "big": ["b"]}))


@pytest.fixture(scope="module")
def real_pairs():
    records = reference.load("imagenet-val")
    return records, pt.pairs_table(records, {k: p.model["gmacs"] for k, p in records.items()})


def test_table2_agrees_with_littlebig_pairs_output(real_pairs, tmp_path):
    """The notebook's Table 2 (computed from pairs_table) equals the one from the CLI's CSV."""
    from littlebig_utils import cli
    _, pairs = real_pairs
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--dataset", "imagenet-val", "--out", str(out)]) == 0
    csv = pd.read_csv(out)
    for degenerate in (False, True):
        ours = pt.best_little_per_big(pairs, degenerate)
        theirs = pt.best_little_per_big(csv, degenerate)
        assert len(ours) > 0
        assert list(ours["big"]) == list(theirs["big"])
        assert list(ours["little"]) == list(theirs["little"])
        for col in ["threshold", "accuracy", "gmacs", "macs_reduction", "frac_big"]:
            np.testing.assert_allclose(ours[col], theirs[col], rtol=1e-9)
        assert dict(zip(theirs["big"], theirs["little"])) == brute_best(csv, degenerate)


# ---------------------------------------------------------------- Pareto frontier
def brute_pareto(cost, score):
    n = len(cost)
    keep = []
    for i in range(n):
        dominated = any((cost[j] <= cost[i] and score[j] >= score[i]
                         and (cost[j] < cost[i] or score[j] > score[i])) for j in range(n))
        duplicate = any(cost[j] == cost[i] and score[j] == score[i] for j in range(i))
        keep.append(not dominated and not duplicate)
    return np.array(keep, dtype=bool)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0]),
                          st.sampled_from([70.0, 71.0, 72.5, 75.0])), min_size=1, max_size=25))
def test_pareto_mask_equals_brute_force(points):
    cost, score = map(np.array, zip(*points))
    assert np.array_equal(pt.pareto_mask(cost, score), brute_pareto(cost, score))


def test_frontier_shift_by_hand():
    single = pd.DataFrame({"gmacs": [1.0, 2.0, 4.0, 3.0], "accuracy": [70.0, 75.0, 80.0, 74.0]})
    cascades = pd.DataFrame({"gmacs": [1.5, 3.0], "accuracy": [75.0, 80.0]})
    shift = pt.frontier_shift(single, pd.concat([single, cascades]))
    assert list(shift["gmacs"]) == [1.0, 2.0, 4.0]  # (3, 74) is dominated by (2, 75)
    np.testing.assert_allclose(shift["gmacs_at_same_accuracy"], [1.0, 1.5, 3.0])
    np.testing.assert_allclose(shift["gmacs_saved"], [0.0, 0.25, 0.25])
    np.testing.assert_allclose(shift["accuracy_at_same_gmacs"], [70.0, 75.0, 80.0])
    np.testing.assert_allclose(shift["accuracy_gain"], [0.0, 0.0, 0.0])
    shift = pt.frontier_shift(single, pd.concat([single, pd.DataFrame({"gmacs": [2.0], "accuracy": [77.0]})]))
    np.testing.assert_allclose(shift["accuracy_gain"], [0.0, 2.0, 0.0])


def test_pareto_mask_refuses_nan():
    with pytest.raises(ValueError, match="finite"):
        pt.pareto_mask([1.0, np.nan], [70.0, 71.0])


# ---------------------------------------------------------------- explorer
def synthetic_records(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    ids = np.arange(n).astype(str)
    difficulty = rng.uniform(size=n)
    recs, specs = {}, {"a": (0.3, 1.0), "b": (0.2, 2.0), "c": (0.1, 8.0)}
    for name, (err, g) in specs.items():
        wrong = rng.uniform(size=n) < err + 0.5 * (difficulty - 0.5) * 0.5
        conf = np.clip(1 - 0.6 * difficulty + rng.normal(0, 0.1, n), 0.05, 1.0).round(3)
        preds = np.where(wrong, (labels + 1) % 10, labels)
        recs[name] = Predictions(ids, labels, preds, conf, model={"name": name, "gmacs": g})
    return recs


def test_explorer_data_is_exact_on_its_grid():
    recs = synthetic_records()
    pairs = pt.pairs_table(recs, {k: p.model["gmacs"] for k, p in recs.items()})
    data = explorer.explorer_data(recs, pairs, n_points=50, dataset="synthetic")
    assert set(data["pairs"]) == {f"{a}|{b}" for a, b in zip(pairs["little"], pairs["big"])}
    for key, p in data["pairs"].items():
        little, big = key.split("|")
        lc, bc, conf = recs[little].correct, recs[big].correct, recs[little].conf
        grid = data["littles"][little]["t"]
        assert grid[0] == 0.0 and grid[-1] == 1.0 and len(grid) <= 52
        for t, acc, frac in zip(grid, p["acc"], data["littles"][little]["frac"]):
            to_big = conf < t  # the definition, one threshold at a time
            assert acc == pytest.approx(100 * np.where(to_big, bc, lc).mean(), abs=5e-4)
            assert frac == pytest.approx(to_big.mean(), abs=5e-6)
        row = pairs[(pairs.little == little) & (pairs.big == big)].iloc[0]
        if p["point"] is None:
            assert np.isnan(row["threshold"])
        else:
            assert p["point"]["threshold"] == pytest.approx(row["threshold"], abs=1e-6)
            assert p["point"]["macs_reduction"] == pytest.approx(row["macs_reduction"], abs=1e-6)
        assert p["degenerate"] == bool(row["degenerate"])


def test_explorer_html_is_self_contained():
    recs = synthetic_records(500)
    pairs = pt.pairs_table(recs, {k: p.model["gmacs"] for k, p in recs.items()})
    data = explorer.explorer_data(recs, pairs, n_points=20)
    html = explorer.explorer_html(data, "a", "c", element_id="x1")
    payload = html.split('<script type="application/json" class="lb-data">')[1].split("</script>")[0]
    assert json.loads(payload) == json.loads(json.dumps(data))
    for needle in ("<link", " src=", "cdn", "fetch(", "XMLHttpRequest", "import "):
        assert needle not in html, needle
    # the only URL is the SVG namespace, which is an identifier, never requested
    assert set(part.split('"')[0] for part in html.split("http")[1:]) == {"://www.w3.org/2000/svg"}
    with pytest.raises(KeyError, match="cheaper"):
        explorer.explorer_html(data, "c", "a")


def test_accuracy_gain_by_hand():
    single = pd.DataFrame({"gmacs": [1.0, 2.0, 4.0], "accuracy": [70.0, 75.0, 80.0]})
    cascades = pd.DataFrame({"gmacs": [0.5, 3.0], "accuracy": [69.0, 80.0]})
    gain = pt.accuracy_gain(single, pd.concat([single, cascades]))
    # combined front: (0.5, 69), (1, 70), (2, 75), (3, 80); (4, 80) is dominated by (3, 80)
    assert list(gain["gmacs"]) == [0.5, 1.0, 2.0, 3.0]
    np.testing.assert_allclose(gain["single_accuracy"], [np.nan, 70.0, 75.0, 75.0])
    np.testing.assert_allclose(gain["accuracy_gain"], [np.nan, 0.0, 0.0, 5.0])


# ---------------------------------------------------------------- cheapest cascade at an accuracy
@pytest.mark.parametrize("target", [0.60, 0.75, 0.80, 0.84, 0.99])
def test_cheapest_cascade_at_equals_brute_force(target):
    recs = synthetic_records(400, seed=3)
    g = {k: p.model["gmacs"] for k, p in recs.items()}
    best = None
    for a in recs:  # every pair, every threshold, from the definition
        for b in recs:
            if g[a] >= g[b]:
                continue
            conf, lc, bc = recs[a].conf, recs[a].correct, recs[b].correct
            for t in np.unique(np.r_[0.0, 1.0, conf]):
                to_big = conf < t
                acc = np.where(to_big, bc, lc).mean()
                cost = g[a] + to_big.mean() * g[b]
                if acc >= target - 1e-12 and (best is None or cost < best[0] - 1e-12):
                    best = (cost, acc, a, b)
    got = pt.cheapest_cascade_at(recs, g, target)
    if best is None:
        assert got is None
    else:
        assert got is not None
        assert got["gmacs"] == pytest.approx(best[0]) and got["accuracy"] >= target - 1e-12


def test_pareto_mask_treats_last_bit_differences_as_ties():
    # the same accuracy computed two ways: a cascade (cheaper) and the single model it matches
    cascade_acc = 39349 / 50000
    single_acc = np.mean(np.r_[np.ones(39349), np.zeros(10651)].astype(bool))
    mask = pt.pareto_mask([0.45, 0.74], [cascade_acc, single_acc + 1e-13])
    assert mask.tolist() == [True, False]


# ---------------------------------------------------------------- all pairs at once
def assert_same_pairs(fast, slow):
    assert list(fast.columns) == list(slow.columns) == pt.PAIR_COLUMNS
    assert list(fast["little"]) == list(slow["little"]) and list(fast["big"]) == list(slow["big"])
    assert (fast["degenerate"] == slow["degenerate"]).all()
    for col in ["threshold", "accuracy", "little_accuracy", "big_accuracy", "gmacs",
                "macs_reduction", "frac_big"]:
        np.testing.assert_allclose(fast[col].astype(float), slow[col].astype(float), rtol=0, atol=1e-12, err_msg=col)


@settings(max_examples=examples(30), deadline=None)
@given(st.integers(0, 10_000))
def test_pairs_table_equals_the_per_pair_reference(seed):
    rng = np.random.default_rng(seed)
    n, n_models = int(rng.integers(1, 200)), int(rng.integers(2, 6))
    labels = rng.integers(0, 3, n)
    ids = np.arange(n).astype(str)
    recs, g = {}, {}
    for m in range(n_models):
        preds = np.where(rng.random(n) < rng.uniform(0.3, 0.9), labels, (labels + 1) % 3)
        conf = rng.choice([0.1, 0.3, 0.5, 0.5, 0.8, 1.0], n)  # ties on purpose
        recs[f"m{m}"] = Predictions(ids, labels, preds, conf, model={"name": f"m{m}"})
        g[f"m{m}"] = float(rng.choice([1.0, 2.0, 3.0, 5.0]))  # equal costs too: not pairs
    assert_same_pairs(pt.pairs_table(recs, g), pairs_table_per_pair(recs, g))


def test_pairs_table_on_real_predictions_equals_the_per_pair_reference(real_pairs):
    records, pairs = real_pairs
    ref = pairs_table_per_pair(records, {k: p.model["gmacs"] for k, p in records.items()})
    assert_same_pairs(pairs, ref)


def test_best_little_per_big_refusal_says_how_to_make_a_table():
    with pytest.raises(KeyError, match=r"make one with pairs_table or `littlebig pairs`"):
        pt.best_little_per_big(pd.DataFrame({"little": ["a"], "big": ["b"]}))


def test_cheapest_at_defaults_to_gmacs_and_accuracy():
    front = pd.DataFrame({"gmacs": [1.0, 2.0, 4.0], "accuracy": [0.6, 0.7, 0.8],
                          "cost": [9.0, 8.0, 7.0]})
    assert pt.cheapest_at(front, 0.65) == 2.0
    assert pt.cheapest_at(front, 0.65, cost="cost") == 7.0
    assert np.isnan(pt.cheapest_at(front, 0.9))
