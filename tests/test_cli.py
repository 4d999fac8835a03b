"""The `littlebig` command line: the DESIGN.md contract, and refusals that leave nothing behind."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from littlebig_utils import cascade, cli, data, reference

MODEL_COLUMNS = ["model", "source", "timm_tag", "img_size", "top1", "real_top1", "gmacs", "params_m"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "littlebig_utils.cli", *args],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def pairs_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "pairs.csv"
    r = run("pairs", "--dataset", "imagenet-val", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return pd.read_csv(out)


def test_models_command(tmp_path):
    out = tmp_path / "models.csv"
    assert cli.main(["models", "--dataset", "imagenet-val", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns[:8]) == MODEL_COLUMNS
    assert len(df) == 14 and df["gmacs"].gt(0).all()


def test_pairs_contract(pairs_csv):
    assert list(pairs_csv.columns) == cascade.PAIR_COLUMNS
    models = reference.models_table().set_index("model")
    g = models["gmacs"]
    expected = sum(1 for a in g.index for b in g.index if g[a] < g[b])
    assert len(pairs_csv) == expected
    assert (pairs_csv["little_gmacs"] < pairs_csv["big_gmacs"]).all()
    ok = pairs_csv.dropna(subset=["threshold"])
    np.testing.assert_allclose(ok["gmacs"], ok["little_gmacs"] + ok["frac_big"] * ok["big_gmacs"])
    np.testing.assert_allclose(ok["macs_reduction"], 100 * (1 - ok["gmacs"] / ok["big_gmacs"]))
    assert (ok["accuracy"] >= ok["big_accuracy"] - 1e-9).all()
    assert (pairs_csv["degenerate"] == (pairs_csv["little_accuracy"] >= pairs_csv["big_accuracy"])).all()
    assert (pairs_csv.loc[pairs_csv["degenerate"], "threshold"] == 0).all()


def test_pairs_row_agrees_with_brute_force(pairs_csv):
    row = pairs_csv[(pairs_csv.little == "mobilenetv3_large_100") & (pairs_csv.big == "resnext50_32x4d")].iloc[0]
    little = data.load_imagenet_predictions("mobilenetv3_large_100")
    big = data.load_imagenet_predictions("resnext50_32x4d")
    best = None
    for t in np.unique(np.r_[0.0, 1.0, little.conf]):  # the definition, one threshold at a time
        to_big = little.conf < t
        if np.where(to_big, big.correct, little.correct).sum() >= big.correct.sum():
            best = (t, to_big.mean())
            break
    assert row.threshold == pytest.approx(best[0]) and row.frac_big == pytest.approx(best[1])
    assert row.little_accuracy == pytest.approx(100 * little.accuracy)


def test_unknown_dataset_is_refused_and_writes_nothing(tmp_path):
    out = tmp_path / "pairs.csv"
    r = run("pairs", "--dataset", "imagenet-vx", "--out", str(out))
    assert r.returncode != 0 and "unknown dataset 'imagenet-vx'" in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "models.csv"
    r = run("models", "--out", str(out))
    assert r.returncode == 2
    assert "not found" in r.stderr and "LITTLEBIG_DATA_DIR" in r.stderr
    assert not out.exists()
