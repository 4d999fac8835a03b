"""The `littlebig` command line: the DESIGN.md contract, the public API behind each command,
the three output formats, and refusals that exit 2 with one line and leave nothing behind."""
import argparse
import io
import json
import math
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import littlebig_utils
from littlebig_utils import Cascade, Predictions, cli, split
from littlebig_utils.core import pairs as cascade
from littlebig_utils.core.names import METHODS, RULES
from littlebig_utils.data import DATASETS
from littlebig_utils.data import registry as data
from littlebig_utils.data import reference

MODEL_COLUMNS = ["model", "source", "timm_tag", "img_size", "top1", "real_top1", "gmacs", "params_m"]
PAIR_COLUMNS = ["little", "big", "threshold", "accuracy", "little_accuracy", "big_accuracy",
                "gmacs", "little_gmacs", "big_gmacs", "macs_reduction", "frac_big", "degenerate"]


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "littlebig_utils.cli", *args],
                          capture_output=True, text=True, **kw)


def exit_code(argv) -> int:
    """cli.main's status, also when argparse exits (usage errors raise SystemExit(2))."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return exc.code


def one_error_line(err: str, command: str = "") -> str:
    """The whole of standard error: exactly one line, `littlebig COMMAND: error: ...`."""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert re.match(rf"littlebig {command}.*: error: ", err), err
    return err


# ---------------------------------------------------------------- synthetic Predictions files

def _zoo(tmp_path, n=300, seed=0, gmacs=(0.5, 2.0, 8.0), names=("small", "mid", "large")):
    """Three synthetic models of increasing accuracy saved as Predictions files."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    files = []
    for k, (name, g) in enumerate(zip(names, gmacs)):
        right = rng.random(n) < 0.5 + 0.15 * k
        preds = np.where(right, labels, (labels + 1 + rng.integers(0, 9, n)) % 10)
        conf = np.clip(0.35 + 0.5 * right * rng.random(n) + 0.3 * rng.random(n), 0.1, 1.0)
        model = {} if name is None else {"name": name}
        if g is not None:
            model["gmacs"] = g
        path = tmp_path / f"file{k}.npz"
        Predictions([f"s{i:04d}" for i in range(n)], labels, preds, conf, model=model,
                    dataset="synthetic").save(path)
        files.append(path)
    return files


def _save_pair(tmp_path, n=4000, seed=6):
    """A little (1 GMAC) and a big (10 GMACs) model whose little one is right when confident."""
    rng = np.random.default_rng(seed)
    conf = rng.random(n)
    u = rng.random(n)
    a, b = 0.3 * (1 - conf), 0.1 * (1 - conf)
    loss, gain = u < a, (u >= a) & (u < a + b)
    both = ~loss & ~gain & (rng.random(n) < 0.8)
    lc, bc = gain | both, loss | both
    labels = rng.integers(0, 10, n)
    ids = [f"s{i}" for i in range(n)]
    little = Predictions(ids, labels, np.where(lc, labels, (labels + 1) % 10), conf,
                         model={"name": "little", "gmacs": 1.0})
    big = Predictions(ids, labels, np.where(bc, labels, (labels + 2) % 10), rng.random(n),
                      model={"name": "big", "gmacs": 10.0})
    return little.save(tmp_path / "little.npz"), big.save(tmp_path / "big.npz")


# ---------------------------------------------------------------- models and pairs: the contract

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
    assert list(df.columns) == MODEL_COLUMNS
    assert len(df) == 14 and df["gmacs"].gt(0).all()
    # fractions: resnet34's top-1 is its Predictions' accuracy
    r34 = df.set_index("model").loc["resnet34"]
    assert r34["top1"] == pytest.approx(data.load_imagenet_predictions("resnet34").accuracy)
    assert df["real_top1"].between(0.5, 1).all()


def test_pairs_contract(pairs_csv):
    assert list(pairs_csv.columns) == PAIR_COLUMNS
    g = reference.models_table().set_index("model")["gmacs"]
    assert len(pairs_csv) == sum(1 for a in g.index for b in g.index if g[a] < g[b])
    assert (pairs_csv["little_gmacs"] < pairs_csv["big_gmacs"]).all()
    ok = pairs_csv.dropna(subset=["threshold"])
    np.testing.assert_allclose(ok["gmacs"], ok["little_gmacs"] + ok["frac_big"] * ok["big_gmacs"])
    np.testing.assert_allclose(ok["macs_reduction"], 1 - ok["gmacs"] / ok["big_gmacs"])
    assert (ok["accuracy"] >= ok["big_accuracy"] - 1e-12).all()
    assert pairs_csv[["accuracy", "little_accuracy", "big_accuracy"]].max().max() < 1
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
            best = (t, to_big.mean(), np.where(to_big, big.correct, little.correct).mean())
            break
    assert row.threshold == pytest.approx(best[0]) and row.frac_big == pytest.approx(best[1])
    assert row.little_accuracy == pytest.approx(little.accuracy)  # a fraction, divided once
    assert row.accuracy == pytest.approx(best[2])


def test_pairs_files_round_trip_equals_the_library(tmp_path):
    files = _zoo(tmp_path)
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--files", *map(str, files), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == PAIR_COLUMNS and len(got) == 3
    records = {p.name: p for p in map(Predictions.load, files)}
    for _, row in got.iterrows():  # each row, by the definition, in fractions
        little, big = records[row["little"]], records[row["big"]]
        t = row["threshold"]
        right = np.where(little.conf < t, big.correct, little.correct)
        assert row["accuracy"] == pytest.approx(right.mean())
        assert row["little_accuracy"] == pytest.approx(little.accuracy)
        assert row["big_accuracy"] == pytest.approx(big.accuracy)
        assert row["macs_reduction"] == pytest.approx(1 - row["gmacs"] / row["big_gmacs"])
    # rows in another order are aligned by sample id: same table
    shuffled = Predictions.load(files[2])
    shuffled = shuffled.subset(np.random.default_rng(1).permutation(len(shuffled)))
    shuffled.save(files[2])
    out2 = tmp_path / "pairs2.csv"
    assert cli.main(["pairs", "--files", *map(str, files), "--out", str(out2)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out2), got)


def test_pairs_gmacs_from_the_command_line_and_names_from_file_stems(tmp_path, capsys):
    files = _zoo(tmp_path, gmacs=(0.5, None, 8.0), names=("small", None, "large"))
    assert cli.main(["pairs", "--files", *map(str, files)]) == 2
    err = one_error_line(capsys.readouterr().err, "pairs")
    assert "no GMACs for model 'file1'" in err and "file1.npz" in err
    assert "--gmacs file1=VALUE" in err
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--files", *map(str, files), "--gmacs", "file1=2.5",
                     "--gmacs", "large=9", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    g = dict(zip(df["little"], df["little_gmacs"])) | dict(zip(df["big"], df["big_gmacs"]))
    assert g == {"small": 0.5, "file1": 2.5, "large": 9.0}  # --gmacs overrides the metadata


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc"])
def test_pairs_bad_gmacs_value_is_refused(tmp_path, value):
    files = _zoo(tmp_path)
    r = run("pairs", "--files", *map(str, files), "--gmacs", f"mid={value}")
    one_error_line(r.stderr, "pairs")
    assert r.returncode == 2 and "GMACs of 'mid'" in r.stderr


def test_pairs_unknown_or_repeated_gmacs_name_is_refused(tmp_path, capsys):
    files = list(map(str, _zoo(tmp_path)))
    assert cli.main(["pairs", "--files", *files, "--gmacs", "tiny=1"]) == 2
    assert "unknown model(s) tiny" in one_error_line(capsys.readouterr().err)
    assert cli.main(["pairs", "--files", *files, "--gmacs", "mid=1", "--gmacs", "mid=2"]) == 2
    assert "'mid' twice" in one_error_line(capsys.readouterr().err)


def test_gmacs_that_leave_no_pair_are_an_error_and_ties_a_warning(tmp_path, capsys):
    """Issue 17: `--gmacs small=4` emptied the table without a word."""
    files = list(map(str, _zoo(tmp_path)))
    out = tmp_path / "p.csv"
    assert cli.main(["pairs", "--files", *files, "--gmacs", "small=8", "--gmacs", "mid=8",
                     "--out", str(out)]) == 2
    err = one_error_line(capsys.readouterr().err, "pairs")
    assert "no pair: every model costs 8 GMACs" in err and not out.exists()
    assert cli.main(["pairs", "--files", *files, "--gmacs", "small=8", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: small and large cost the same 8 GMACs: no pair between them" in err
    assert sorted(zip(*pd.read_csv(out)[["little", "big"]].values.T)) == [
        ("mid", "large"), ("mid", "small")]


def test_pairs_duplicate_names_and_misaligned_files_are_refused(tmp_path, capsys):
    out = tmp_path / "pairs.csv"
    files = list(map(str, _zoo(tmp_path, names=("small", "small", "large"))))
    assert cli.main(["pairs", "--files", *files, "--out", str(out)]) == 2
    assert "two files hold a model named 'small'" in one_error_line(capsys.readouterr().err)
    other = tmp_path / "other"
    other.mkdir()
    files = list(map(str, _zoo(tmp_path))) + [str(_zoo(other, n=250, names=("x", "y", "z"))[0])]
    assert cli.main(["pairs", "--files", *files, "--out", str(out)]) == 2
    assert "cannot align" in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_pairs_files_and_dataset_exclude_each_other(tmp_path):
    files = _zoo(tmp_path)
    r = run("pairs", "--files", *map(str, files), "--dataset", "imagenet-val")
    assert r.returncode == 2 and "not allowed with" in one_error_line(r.stderr, "pairs")


def test_pairs_cifar10_reference_dataset(tmp_path, capsys):
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--dataset", "cifar10-test", "--out", str(out)]) == 2
    assert "--gmacs densenet40=VALUE" in capsys.readouterr().err and not out.exists()
    assert cli.main(["pairs", "--dataset", "cifar10-test", "--gmacs", "densenet40=0.3",
                     "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == PAIR_COLUMNS
    assert (df["little"] == "resnet110").all() and (df["big"] == "densenet40").all()


def test_pairs_cifar10_jpeg_dataset_uses_the_cached_resnet_predictions(tmp_path, monkeypatch):
    """cifar10-test-jpeg tables the four pretrained CIFAR ResNets' predictions (computed once by
    `predict.cached_predictions`; replaced here by synthetic records to keep the test fast)."""
    from littlebig_utils.run import cifar, predict
    resnets = [f"cifar_resnet{d}" for d in cifar.CHECKPOINTS]
    files = _zoo(tmp_path, gmacs=(0.04, 0.07, 0.1), names=resnets[:3])
    (tmp_path / "b").mkdir()
    files += _zoo(tmp_path / "b", seed=0, gmacs=(0.13,), names=resnets[3:])[:1]
    by_name = {p.name: p for p in map(Predictions.load, files)}
    asked = []
    monkeypatch.setattr(predict, "cached_predictions",
                        lambda m, ds, **kw: asked.append((m, ds)) or by_name[m])
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--dataset", "cifar10-test-jpeg", "--out", str(out)]) == 0
    assert asked == [(m, "cifar10-test-jpeg") for m in resnets]
    assert len(pd.read_csv(out)) == 6


# ---------------------------------------------------------------- threshold IS Cascade

def _cascade_rows(little, big, max_loss, delta, method, calib_frac, seed):
    """What the public API gives for the split `split` makes: one CascadeReport per rule."""
    calib, test = split(len(little), calib_frac, seed)
    out = {}
    for rule in RULES:
        casc = Cascade(rule=rule, max_loss=max_loss, delta=delta, method=method)
        casc.fit(little.subset(calib), big.subset(calib))
        out[rule] = casc.evaluate(little.subset(test), big.subset(test))
    return out, len(calib), len(test)


def _assert_rows_are_the_reports(df, reports, n_calib, n_test, max_loss):
    assert list(df["rule"]) == list(RULES)
    for _, row in df.iterrows():
        rep = reports[row["rule"]]
        if rep.threshold is None:
            assert math.isnan(row["threshold"])
        else:
            assert row["threshold"] == rep.threshold  # the same float, through the CSV
        for col in ("accuracy", "little_accuracy", "big_accuracy", "accuracy_loss", "frac_big"):
            assert row[col] == pytest.approx(getattr(rep, col), rel=1e-15, abs=1e-15), col
        assert row["gmacs"] == pytest.approx(rep.cost, nan_ok=True)
        assert row["macs_reduction"] == pytest.approx(rep.cost_reduction, nan_ok=True)
        assert row["n_calib"] == n_calib and row["n_test"] == n_test == rep.n
        allowed = 0.0 if row["rule"] == "no_loss" else max_loss
        assert row["max_loss"] == allowed
        assert bool(row["violated"]) == (rep.accuracy_loss > allowed + 1e-12)


def test_threshold_csv_is_cascade_on_the_split_reference_pair(capsys):
    """Issue 17 done-when: `littlebig threshold --format csv` for a pair equals Cascade on the
    same split, in fractions."""
    assert cli.main(["threshold", "--little", "resnet34", "--big", "densenet161",
                     "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    recs = littlebig_utils.load("imagenet-val", ["resnet34", "densenet161"])
    reports, nc, nt = _cascade_rows(recs["resnet34"], recs["densenet161"], 0.005, 0.05,
                                    "clopper-pearson", 0.2, 0)
    _assert_rows_are_the_reports(df, reports, nc, nt, 0.005)
    assert nc == 10_000 and nt == 40_000
    assert df["accuracy"].between(0.7, 0.8).all() and df["macs_reduction"].between(0, 1).all()
    assert (df["little"] == "resnet34").all() and (df["big"] == "densenet161").all()


@pytest.mark.parametrize("method", METHODS)
def test_threshold_csv_is_cascade_on_the_split_files(tmp_path, method):
    lf, bf = _save_pair(tmp_path)
    out = tmp_path / "t.csv"
    assert cli.main(["threshold", "--little-file", str(lf), "--big-file", str(bf),
                     "--max-loss", "0.02", "--delta", "0.1", "--calib-frac", "0.5", "--seed", "3",
                     "--method", method, "--out", str(out)]) == 0
    df = pd.read_csv(out)
    reports, nc, nt = _cascade_rows(Predictions.load(lf), Predictions.load(bf), 0.02, 0.1,
                                    method, 0.5, 3)
    _assert_rows_are_the_reports(df, reports, nc, nt, 0.02)
    g = df.set_index("rule").loc["guaranteed"]
    assert g["method"] == method and g["delta"] == 0.1
    if method == "hoeffding-bentkus":  # far more conservative: certifies nothing here
        assert math.isnan(g["threshold"]) and g["frac_big"] == 1  # big alone: nothing saved
        assert g["gmacs"] == 10 and g["macs_reduction"] == 0
    else:
        assert 0 < g["threshold"] < 1
        assert g["macs_reduction"] == pytest.approx(1 - (1 + 10 * g["frac_big"]) / 10)
        assert df.set_index("rule")["threshold"].nunique() == 3  # the rules differ: a swap shows


def test_threshold_json_holds_version_command_every_parameter_and_null(tmp_path):
    lf, bf = _save_pair(tmp_path, n=2000)
    out = tmp_path / "t.json"
    assert cli.main(["threshold", "--little-file", str(lf), "--big-file", str(bf),
                     "--gmacs", "big=12", "--out", str(out)]) == 0
    text = out.read_text()
    assert "NaN" not in text
    doc = json.loads(text)
    assert doc["littlebig"] == littlebig_utils.__version__
    assert doc["command"] == "threshold"
    assert doc["params"] == {
        "little": None, "big": None, "little_file": str(lf), "big_file": str(bf),
        "dataset": "imagenet-val", "gmacs": {"big": 12.0}, "max_loss": 0.005,
        "delta": 0.05, "method": "clopper-pearson", "calib_frac": 0.2, "seed": 0,
        "format": "json", "out": str(out)}
    rows = {r["rule"]: r for r in doc["rows"]}
    assert list(rows) == list(RULES)
    assert rows["no_loss"]["delta"] is None and rows["guaranteed"]["delta"] == 0.05
    assert rows["guaranteed"]["big_gmacs"] == 12.0
    assert 0 < rows["no_loss"]["accuracy"] < 1


def test_threshold_human_table_has_units_and_one_decision_line(tmp_path):
    lf, bf = _save_pair(tmp_path)
    out = tmp_path / "t.txt"
    assert cli.main(["threshold", "--little-file", str(lf), "--big-file", str(bf),
                     "--max-loss", "0.02", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    head, rows, decision = lines[0], lines[1:4], lines[4:]
    for unit in ("T", "to big (%)", "accuracy (%)", "loss (points)", "GMACs", "GMACs saved (%)"):
        assert unit in head
    assert len({len(line) for line in [head] + rows}) == 1  # aligned: every line as wide
    assert len(decision) == 1
    assert cli.main(["threshold", "--little-file", str(lf), "--big-file", str(bf),
                     "--max-loss", "0.02", "--out", str(tmp_path / "t.csv")]) == 0
    g = pd.read_csv(tmp_path / "t.csv").set_index("rule").loc["guaranteed"]
    m = re.fullmatch(r"guaranteed \(clopper-pearson: loss <= 2\.00 points with probability >= "
                     r"0\.95\): T = (\S+): (\S+) % of 3,200 test images go to big; accuracy "
                     r"(\S+) points vs big alone; (\S+) % fewer GMACs", decision[0])
    assert m, decision[0]
    assert float(m[1]) == pytest.approx(g["threshold"], abs=5e-4)
    assert float(m[2]) == pytest.approx(100 * g["frac_big"], abs=0.05)
    assert float(m[3]) == pytest.approx(100 * (g["accuracy"] - g["big_accuracy"]), abs=0.005)
    assert float(m[4]) == pytest.approx(100 * g["macs_reduction"], abs=0.05)
    # percent only in the human table: the row's accuracy shows as percent there
    assert f"{100 * g['accuracy']:.2f}" in rows[2]


def test_threshold_without_a_certified_threshold_says_use_big(tmp_path, capsys):
    lf, bf = _save_pair(tmp_path, n=60)
    assert cli.main(["threshold", "--little-file", str(lf), "--big-file", str(bf),
                     "--max-loss", "0", "--delta", "0.01", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "no threshold is certified on 12 calibration images; use big alone" in out
    assert cli.main(["threshold", "--little-file", str(lf), "--big-file", str(bf),
                     "--max-loss", "0", "--delta", "0.01", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[2]["threshold"] is None and rows[2]["frac_big"] == 1.0


# ---------------------------------------------------------------- curve

def test_curve_is_cascade_curve_and_states_the_no_loss_point(tmp_path, capsys):
    lf, bf = _save_pair(tmp_path, n=1500)
    little, big = Predictions.load(lf), Predictions.load(bf)
    assert cli.main(["curve", "--little-file", str(lf), "--big-file", str(bf),
                     "--format", "csv"]) == 0
    got = pd.read_csv(io.StringIO(capsys.readouterr().out))
    want = Cascade().curve(little, big)
    assert len(got) == len(want) == len(np.unique(np.r_[0.0, 1.0, little.conf]))
    np.testing.assert_array_equal(got["threshold"], want["threshold"])
    np.testing.assert_allclose(got["accuracy"], want["accuracy"], rtol=1e-15)
    np.testing.assert_allclose(got["macs_reduction"], want["cost_reduction"], rtol=1e-12)
    np.testing.assert_allclose(got["gmacs"], want["cost"], rtol=1e-12)
    assert cli.main(["curve", "--little-file", str(lf), "--big-file", str(bf), "--points", "11",
                     "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 11 + 1 and "to big (%)" in lines[0]
    rep = Cascade(rule="no_loss").fit(little, big).evaluate(little, big)
    assert f"T = {rep.threshold:.3f}: {100 * rep.frac_big:.1f} % of 1,500 images go to big" \
        in lines[-1]


# ---------------------------------------------------------------- formats

def test_format_follows_out_extension_then_the_terminal(tmp_path, capsys, monkeypatch):
    files = list(map(str, _zoo(tmp_path)))
    base = ["pairs", "--files", *files]
    assert cli.main(base + ["--out", str(tmp_path / "p.json")]) == 0
    assert json.loads((tmp_path / "p.json").read_text())["command"] == "pairs"
    assert cli.main(base + ["--out", str(tmp_path / "p.txt")]) == 0
    assert "accuracy (%)" in (tmp_path / "p.txt").read_text()
    assert cli.main(base) == 0  # standard output is no terminal here: CSV
    assert capsys.readouterr().out.startswith(",".join(PAIR_COLUMNS))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert cli.main(base) == 0
    out = capsys.readouterr().out
    assert "accuracy (%)" in out.splitlines()[0] and "3 pairs: " in out.splitlines()[-1]
    for bad in (["--out", str(tmp_path / "p.dat")],
                ["--format", "json", "--out", str(tmp_path / "p.csv")]):
        assert cli.main(base + bad) == 2
        one_error_line(capsys.readouterr().err, "pairs")
    assert cli.main(base + ["--format", "csv", "--out", str(tmp_path / "p.dat")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("p.")) == [
        "p.dat", "p.json", "p.txt"]


def test_every_command_offers_the_three_formats():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"models", "pairs", "threshold", "curve", "predict"}
    for name, p in sub.choices.items():
        fmt = next(a for a in p._actions if a.dest == "format")
        assert tuple(fmt.choices) == ("table", "csv", "json"), name


# ---------------------------------------------------------------- datasets and choices

def test_dataset_accepts_every_dataset_load_knows():
    parser = cli.build_parser()
    for name in DATASETS:
        for cmd in (["models"], ["pairs"], ["threshold", "--little", "a", "--big", "b"],
                    ["curve", "--little", "a", "--big", "b"]):
            assert parser.parse_args([*cmd, "--dataset", name]).dataset == name


def test_unknown_dataset_exits_2_with_close_names_and_writes_nothing(tmp_path):
    """Issue 17: `pairs --dataset foo` exited 1."""
    out = tmp_path / "pairs.csv"
    for cmd in ("pairs", "models", "threshold", "curve"):
        r = run(cmd, "--dataset", "imagenet-vx", "--out", str(out))
        assert r.returncode == 2
        err = one_error_line(r.stderr, cmd)
        assert "unknown dataset 'imagenet-vx' (did you mean imagenet-val" in err
        assert all(name in err for name in DATASETS)
    r = run("pairs", "--dataset", "foo")
    assert r.returncode == 2 and "unknown dataset 'foo'" in one_error_line(r.stderr, "pairs")
    assert list(tmp_path.iterdir()) == []


def test_choices_come_from_the_registries():
    helps = cli.build_parser()._subparsers._group_actions[0].choices
    method = next(a for a in helps["threshold"]._actions if a.dest == "method")
    assert tuple(method.choices) == METHODS
    text = helps["pairs"].format_help()
    assert all(name in text for name in DATASETS)
    assert "FRACTION" in helps["threshold"].format_help()
    assert not (Path(cli.__file__).parent / "_names.py").exists()


def test_unknown_model_names_close_ones(capsys):
    assert cli.main(["threshold", "--little", "resnet43", "--big", "densenet161"]) == 2
    err = one_error_line(capsys.readouterr().err, "threshold")
    assert re.search(r"unknown (reference )?model 'resnet43' of imagenet-val\W+did you mean\W+"
                     r"resnet34", err, flags=re.I)


# ---------------------------------------------------------------- bad values: exit 2, one line

@pytest.mark.parametrize("extra, message", [
    (["--max-loss", "0.5"], r"refused: as a fraction it means 50 accuracy points; if you meant "
                            r"0\.5 points pass (--max-loss )?0\.005"),  # both readings
    (["--max-loss", "-0.01"], ">= 0"), (["--max-loss", "nan"], "fraction of accuracy.*got nan"),
    (["--max-loss", "x"], "expected a number"),
    (["--epsilon", "0.5"], r"--epsilon \(accuracy points\) is now --max-loss, a fraction: "
                           r"--epsilon 0\.5 is --max-loss 0\.005"),
    (["--seed", "-1"], "must be an integer >= 0, got -1"), (["--seed", "1.5"], "integer >= 0"),
    (["--delta", "0"], "delta"), (["--delta", "1.2"], "delta"),
    (["--calib-frac", "1"], "calib_frac"), (["--method", "wrs"], "invalid choice"),
    (["--little", "no_such_model"], "unknown (reference )?model 'no_such_model'"),
    (["--calib-frac", "0.0001"], "empty"),
    (["--gmacs", "little=20"], "not cheaper than the big one 'big'.*swap --little and --big"),
    (["--nonsense"], "unrecognized arguments"),
])
def test_threshold_refuses_bad_input_with_one_line_and_leaves_no_file(tmp_path, extra, message,
                                                                      capsys):
    lf, bf = _save_pair(tmp_path, n=200)
    out = tmp_path / "t.csv"
    args = ["threshold", "--big-file", str(bf), "--out", str(out)]
    if "--little" not in extra:
        args += ["--little-file", str(lf)]
    assert exit_code(args + extra) == 2
    assert re.search(message, one_error_line(capsys.readouterr().err, "threshold"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npz", "little.npz"]


def test_same_model_twice_is_refused(tmp_path, capsys):
    lf, _ = _save_pair(tmp_path, n=100)
    assert cli.main(["threshold", "--little-file", str(lf), "--big-file", str(lf)]) == 2
    assert "both 'little'" in one_error_line(capsys.readouterr().err)


def test_data_predictions_and_os_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys):
    """Each class: DataError (missing reference data), PredictionsError (corrupt file),
    FileNotFoundError, PermissionError and another OSError (disk full) while writing."""
    files = list(map(str, _zoo(tmp_path)))
    out = tmp_path / "p.csv"
    (tmp_path / "e").mkdir()  # an existing folder without the files
    r = run("models", "--out", str(out), env=dict(os.environ, LITTLEBIG_DATA_DIR=str(tmp_path / "e"),
                                                   LITTLEBIG_CACHE_DIR=str(tmp_path / "c")))
    assert r.returncode == 2 and "not found" in one_error_line(r.stderr, "models")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert cli.main(["pairs", "--files", files[0], str(tmp_path / "bad.npz")]) == 2
    assert "not a readable Predictions file" in one_error_line(capsys.readouterr().err)
    assert cli.main(["pairs", "--files", files[0], str(tmp_path / "missing.npz")]) == 2
    assert "no Predictions file at" in one_error_line(capsys.readouterr().err)

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(Predictions, "load", staticmethod(denied))
    assert cli.main(["pairs", "--files", *files]) == 2
    err = one_error_line(capsys.readouterr().err, "pairs")
    assert f"Permission denied: {files[0]}" in err and "permissions" in err
    monkeypatch.undo()

    def full(self):
        raise OSError(28, "No space left on device", str(out))
    monkeypatch.setattr(cli.atomic_write, "__enter__", full)
    assert cli.main(["pairs", "--files", *files, "--out", str(out)]) == 2
    assert "No space left on device" in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_a_programming_error_is_not_hidden_as_a_usage_error(tmp_path, monkeypatch):
    files = list(map(str, _zoo(tmp_path)))
    monkeypatch.setattr(cli, "_pairs_table", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["pairs", "--files", *files])


# ---------------------------------------------------------------- outputs

def test_output_that_is_an_input_is_refused_before_any_work(tmp_path, capsys):
    files = list(map(str, _zoo(tmp_path)))
    before = open(files[0], "rb").read()
    assert cli.main(["pairs", "--files", *files, "--out", files[0], "--format", "csv"]) == 2
    assert "is also an input" in one_error_line(capsys.readouterr().err)
    assert open(files[0], "rb").read() == before
    assert cli.main(["threshold", "--little-file", files[0], "--big-file", files[2],
                     "--out", files[2], "--format", "csv"]) == 2
    assert "is also an input" in one_error_line(capsys.readouterr().err)


def test_symlink_fifo_folder_and_missing_parent_outputs_are_refused(tmp_path, capsys):
    files = list(map(str, _zoo(tmp_path)))
    target = tmp_path / "precious.csv"
    target.write_text("keep me")
    os.symlink(target, tmp_path / "link.csv")
    assert cli.main(["pairs", "--files", *files, "--out", str(tmp_path / "link.csv")]) == 2
    assert "symbolic link" in one_error_line(capsys.readouterr().err)
    assert target.read_text() == "keep me" and (tmp_path / "link.csv").is_symlink()
    os.mkfifo(tmp_path / "fifo")
    assert cli.main(["models", "--out", str(tmp_path / "fifo"), "--format", "csv"]) == 2
    assert "FIFO" in one_error_line(capsys.readouterr().err)
    assert cli.main(["pairs", "--files", *files, "--out", str(tmp_path / "no" / "x.csv")]) == 2
    assert "does not exist" in one_error_line(capsys.readouterr().err)


def test_out_naming_a_folder_is_refused(tmp_path, capsys):
    """Issue 17: `--out newdir/` wrote a file named `newdir`."""
    files = list(map(str, _zoo(tmp_path)))
    before = sorted(os.listdir(tmp_path))
    for out in (str(tmp_path / "newdir") + "/", str(tmp_path) + "/"):
        assert cli.main(["pairs", "--files", *files, "--out", out, "--format", "csv"]) == 2
        assert "names a folder" in one_error_line(capsys.readouterr().err)
    (tmp_path / "adir").mkdir()
    assert cli.main(["pairs", "--files", *files, "--out", str(tmp_path / "adir"),
                     "--format", "csv"]) == 2
    assert "is a directory" in one_error_line(capsys.readouterr().err)
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["adir"])
    assert os.listdir(tmp_path / "adir") == []


def test_read_only_output_is_refused_and_a_replaced_file_keeps_its_mode(tmp_path, capsys):
    """Issue 17: a read-only output file was replaced and made 0644. Decided: refused."""
    files = list(map(str, _zoo(tmp_path)))
    ro = tmp_path / "ro.csv"
    ro.write_text("keep")
    ro.chmod(0o444)
    assert cli.main(["pairs", "--files", *files, "--out", str(ro)]) == 2
    assert "read-only" in one_error_line(capsys.readouterr().err)
    assert ro.read_text() == "keep" and stat.S_IMODE(ro.stat().st_mode) == 0o444
    private = tmp_path / "private.csv"
    private.write_text("old")
    private.chmod(0o600)
    assert cli.main(["pairs", "--files", *files, "--out", str(private)]) == 0
    assert private.read_text().startswith("little,big")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_new_output_mode_follows_the_umask_and_no_temp_remains(tmp_path):
    files = list(map(str, _zoo(tmp_path)))
    old = os.umask(0o022)
    try:
        assert cli.main(["pairs", "--files", *files, "--out", str(tmp_path / "p.csv")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "p.csv").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


def _slow_writer(tmp_path, files, out):
    """A `littlebig pairs` child process that stops while writing, its temp file made."""
    code = (
        "import builtins, sys, time\n"
        "from littlebig_utils import cli\n"
        "def slow_open(*args, **kw):  # cli's open() of the temporary file, in the with block\n"
        "    print('ready', flush=True); time.sleep(60); return builtins.open(*args, **kw)\n"
        "cli.open = slow_open\n"
        f"sys.exit(cli.main(['pairs', '--files', *{files!r}, '--out', {str(out)!r}]))\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "ready\n", child.stderr.read()
    return child


def temps(folder):
    return sorted(p.name for p in Path(folder).iterdir() if ".tmp" in p.name)


def test_sigterm_removes_the_temporary_file(tmp_path):
    files = list(map(str, _zoo(tmp_path)))
    out = tmp_path / "p.csv"
    child = _slow_writer(tmp_path, files, out)
    assert len(temps(tmp_path)) == 1 and f"-{child.pid}-" in temps(tmp_path)[0]
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
    assert temps(tmp_path) == [] and not out.exists()


def test_temporary_files_of_killed_processes_are_removed_by_the_next_write(tmp_path):
    """Issue 17: hidden temporary files left after kill -9 were never cleaned up."""
    files = list(map(str, _zoo(tmp_path)))
    out = tmp_path / "p.csv"
    child = _slow_writer(tmp_path, files, out)
    child.kill()
    child.wait(timeout=30)
    stale = temps(tmp_path)
    assert len(stale) == 1 and f"-{child.pid}-" in stale[0]
    # a live process's temp (this test's parent) and another host's are left alone
    host = re.search(r"littlebig-([0-9a-f]{8})-", stale[0])[1]
    live = f".x.csv.littlebig-{host}-{os.getppid()}-00ab.tmp.csv"
    other = f".x.csv.littlebig-{'0' * 8 if host != '0' * 8 else '1' * 8}-{child.pid}-00ab.tmp.csv"
    mine = ".notes.tmp.txt"  # a user's file that merely looks temporary
    for name in (live, other, mine):
        (tmp_path / name).write_text("x")
    assert cli.main(["pairs", "--files", *files, "--out", str(out)]) == 0
    assert temps(tmp_path) == sorted([live, other, mine]) and out.exists()


def test_outputs_never_touch_reference_data(tmp_path, monkeypatch, capsys):
    """Issue 17: with LITTLEBIG_DATA_DIR unset, --out on a verified file in the cache
    overwrote it with exit 0."""
    key = "imagenet/predictions/timm/resnet34.csv"
    cache = tmp_path / "cache"
    (cache / key).parent.mkdir(parents=True)
    (cache / key).write_bytes((Path(os.environ["LITTLEBIG_DATA_DIR"]) / key).read_bytes())
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(cache))
    monkeypatch.delenv("LITTLEBIG_DATA_DIR")
    assert data.fetch(key) == cache / key  # the file the package reads
    before = (cache / key).read_bytes()
    files = list(map(str, _zoo(tmp_path)))
    os.link(cache / key, tmp_path / "hard.csv")  # the same file under another name
    for out in (cache / key, cache / "imagenet" / "new.csv", tmp_path / "hard.csv",
                Path(cli.__file__).parent / "data" / "gmacs.csv"):
        assert cli.main(["pairs", "--files", *files, "--out", str(out)]) == 2
        assert "reference" in one_error_line(capsys.readouterr().err)
    assert (cache / key).read_bytes() == before and not (cache / "imagenet" / "new.csv").exists()
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(tmp_path / "shared"))
    (tmp_path / "shared").mkdir()
    assert cli.main(["pairs", "--files", *files, "--out", str(tmp_path / "shared" / "x.csv")]) == 2
    assert "reference data folder" in one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------- fast and light

def _imported(args) -> set[str]:
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "littlebig_utils.cli", *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in r.stderr.splitlines()
            if line.startswith("import time:")}, r


def test_parser_and_help_import_nothing_heavy():
    """--help answers at once: the choices come from plain-name registry modules."""
    code = ("import sys; from littlebig_utils import cli; cli.build_parser(); print(' '.join("
            "m for m in ('torch', 'timm', 'numpy', 'pandas', 'scipy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
    for args in (["--help"], ["pairs", "--help"], ["threshold", "--help"], ["curve", "--help"]):
        imported, r = _imported(args)
        assert "usage: littlebig" in r.stdout
        assert not imported & {"torch", "timm", "numpy", "pandas", "scipy"}, args


def test_threshold_of_two_reference_models_imports_no_torch():
    """Issue 17, fast to start: `littlebig threshold --little resnet34 --big densenet161`
    reads two reference files and never imports torch or timm."""
    start = time.perf_counter()
    imported, r = _imported(["threshold", "--little", "resnet34", "--big", "densenet161"])
    elapsed = time.perf_counter() - start
    assert r.stdout.startswith("rule,little,big,")
    assert not imported & {"torch", "timm", "torchvision", "matplotlib"}
    assert elapsed < 30  # the time itself is measured by benchmarks/bench_startup.py


def test_broken_pipe_is_quiet(tmp_path):
    """`littlebig curve ... | head -1`: no traceback, status 141 (128 + SIGPIPE)."""
    import fcntl
    lf, bf = _save_pair(tmp_path, n=20_000)
    read, write = os.pipe()
    fcntl.fcntl(read, fcntl.F_SETPIPE_SZ, 4096)  # a small pipe: the child blocks, then breaks
    child = subprocess.Popen([sys.executable, "-m", "littlebig_utils.cli", "curve",
                              "--little-file", str(lf), "--big-file", str(bf)],
                             stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        assert reader.readline().startswith(b"threshold,")
    assert child.wait(timeout=120) == 141
    assert child.stderr.read() == b""


@pytest.mark.parametrize("dataset", ["imagenet-real", "cifar10-train"])
def test_a_dataset_without_loadable_predictions_says_how_to_make_them(dataset, capsys):
    assert exit_code(["threshold", "--dataset", dataset, "--little", "a", "--big", "b"]) == 2
    err = one_error_line(capsys.readouterr().err, "threshold")
    assert dataset in err and ("littlebig predict" in err or "imagenet-val" in err)
