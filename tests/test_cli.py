"""The `littlebig` command line: the DESIGN.md contract, and refusals that leave nothing behind."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from littlebig_utils import cli
from littlebig_utils.data import registry as data
from littlebig_utils.data import reference
from littlebig_utils.core import pairs as pt
from littlebig_utils.core import ltt

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
    assert list(pairs_csv.columns) == pt.PAIR_COLUMNS
    models = reference.models_table().set_index("model")
    g = models["gmacs"]
    expected = sum(1 for a in g.index for b in g.index if g[a] < g[b])
    assert len(pairs_csv) == expected
    assert (pairs_csv["little_gmacs"] < pairs_csv["big_gmacs"]).all()
    ok = pairs_csv.dropna(subset=["threshold"])
    np.testing.assert_allclose(ok["gmacs"], ok["little_gmacs"] + ok["frac_big"] * ok["big_gmacs"])
    np.testing.assert_allclose(ok["macs_reduction"], 1 - ok["gmacs"] / ok["big_gmacs"])
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
    assert row.little_accuracy == pytest.approx(little.accuracy)


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


# ---------------------------------------------------------------- parser: light and checked

def test_parser_imports_nothing_heavy():
    """Defect 8: building the parser (and --help) imported torch (~6 s per command)."""
    code = ("import sys; from littlebig_utils import cli; cli.build_parser(); "
            "print(' '.join(m for m in ('torch', 'timm', 'pandas', 'scipy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
    for args in (["--help"], ["pairs", "--help"], ["threshold", "--help"]):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "littlebig_utils.cli", *args],
                           capture_output=True, text=True)
        assert r.returncode == 0 and "usage: littlebig" in r.stdout
        imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines()
                    if line.startswith("import time:")}
        assert not imported & {"torch", "timm", "pandas", "scipy"}, args


def test_choices_match_the_registries():
    from littlebig_utils import _names
    from littlebig_utils.run import cifar
    from littlebig_utils.run import datasets
    assert set(_names.THRESHOLD_METHODS) == set(ltt.METHODS)
    assert set(_names.IMAGE_DATASETS) == set(datasets.DATASETS)
    assert set(_names.PAIRS_DATASETS) <= set(datasets.DATASETS)
    assert {f"cifar_resnet{d}" for d in cifar.CHECKPOINTS} == set(_names.CIFAR_RESNETS)
    helps = cli.build_parser()._subparsers._group_actions[0].choices
    text = helps["pairs"].format_help()
    assert all(name in text for name in _names.PAIRS_DATASETS)
    assert "accuracy points" in helps["threshold"].format_help()


# ---------------------------------------------------------------- pairs --files

def _zoo(tmp_path, n=300, seed=0, gmacs=(0.5, 2.0, 8.0), names=("small", "mid", "large")):
    """Three synthetic models of increasing accuracy saved as Predictions files."""
    from littlebig_utils.core.predictions import Predictions
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


def test_pairs_files_round_trip_equals_the_library(tmp_path):
    from littlebig_utils.core.predictions import Predictions
    files = _zoo(tmp_path)
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--files", *map(str, files), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == pt.PAIR_COLUMNS and len(got) == 3
    records = {p.name: p for p in map(Predictions.load, files)}
    expected = pt.pairs_table(records, {k: p.model["gmacs"] for k, p in records.items()})
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12)
    # rows in another order are aligned by sample id: same table
    shuffled = Predictions.load(files[2])
    shuffled = shuffled.subset(np.random.default_rng(1).permutation(len(shuffled)))
    shuffled.save(files[2])
    out2 = tmp_path / "pairs2.csv"
    assert cli.main(["pairs", "--files", *map(str, files), "--out", str(out2)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out2), got)


def test_pairs_gmacs_from_the_command_line_and_names_from_file_stems(tmp_path, capsys):
    files = _zoo(tmp_path, gmacs=(0.5, None, 8.0), names=("small", None, "large"))
    r = cli.main(["pairs", "--files", *map(str, files)])
    err = capsys.readouterr().err
    assert r == 2 and "no GMACs for model 'file1'" in err and "file1.npz" in err
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
    assert r.returncode == 2 and "GMACs of 'mid'" in r.stderr


def test_pairs_unknown_or_repeated_gmacs_name_is_refused(tmp_path, capsys):
    files = list(map(str, _zoo(tmp_path)))
    assert cli.main(["pairs", "--files", *files, "--gmacs", "tiny=1"]) == 2
    assert "unknown model(s) tiny" in capsys.readouterr().err
    assert cli.main(["pairs", "--files", *files, "--gmacs", "mid=1", "--gmacs", "mid=2"]) == 2
    assert "'mid' twice" in capsys.readouterr().err


def test_pairs_duplicate_names_and_misaligned_files_are_refused(tmp_path, capsys):
    out = tmp_path / "pairs.csv"
    files = list(map(str, _zoo(tmp_path, names=("small", "small", "large"))))
    assert cli.main(["pairs", "--files", *files, "--out", str(out)]) == 2
    assert "two files hold a model named 'small'" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    files = list(map(str, _zoo(tmp_path))) + [str(_zoo(other, n=250, names=("x", "y", "z"))[0])]
    assert cli.main(["pairs", "--files", *files, "--out", str(out)]) == 2
    assert "cannot align" in capsys.readouterr().err
    assert not out.exists()


def test_pairs_files_and_dataset_exclude_each_other(tmp_path):
    files = _zoo(tmp_path)
    r = run("pairs", "--files", *map(str, files), "--dataset", "imagenet-val")
    assert r.returncode == 2 and "not allowed with" in r.stderr


def test_pairs_cifar10_reference_dataset(tmp_path, capsys):
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--dataset", "cifar10-test", "--out", str(out)]) == 2
    assert "--gmacs densenet40=VALUE" in capsys.readouterr().err and not out.exists()
    assert cli.main(["pairs", "--dataset", "cifar10-test", "--gmacs", "densenet40=0.3",
                     "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == pt.PAIR_COLUMNS
    assert (df["little"] == "resnet110").all() and (df["big"] == "densenet40").all()


# ---------------------------------------------------------------- outputs (defect 4)

def test_output_that_is_an_input_is_refused_before_any_work(tmp_path, capsys):
    files = list(map(str, _zoo(tmp_path)))
    before = open(files[0], "rb").read()
    assert cli.main(["pairs", "--files", *files, "--out", files[0]]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert open(files[0], "rb").read() == before
    assert cli.main(["threshold", "--little-file", files[0], "--big-file", files[2],
                     "--out", files[2]]) == 2
    assert "is also an input" in capsys.readouterr().err


def test_symlink_and_fifo_outputs_are_refused(tmp_path, capsys):
    import os
    files = list(map(str, _zoo(tmp_path)))
    target = tmp_path / "precious.csv"
    target.write_text("keep me")
    os.symlink(target, tmp_path / "link.csv")
    assert cli.main(["pairs", "--files", *files, "--out", str(tmp_path / "link.csv")]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert target.read_text() == "keep me" and (tmp_path / "link.csv").is_symlink()
    os.mkfifo(tmp_path / "fifo")
    assert cli.main(["models", "--out", str(tmp_path / "fifo")]) == 2
    assert "FIFO" in capsys.readouterr().err
    assert cli.main(["pairs", "--files", *files, "--out", str(tmp_path / "no" / "x.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_output_mode_follows_the_umask_and_no_temp_remains(tmp_path):
    import os
    import stat
    files = list(map(str, _zoo(tmp_path)))
    old = os.umask(0o022)
    try:
        assert cli.main(["pairs", "--files", *files, "--out", str(tmp_path / "p.csv")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "p.csv").stat().st_mode) == 0o644

    class Boom:
        def __len__(self):
            return 1

        def to_csv(self, path, index=False):
            open(path, "w").write("half")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cli.write_table(Boom(), str(tmp_path / "q.csv"))
    assert not (tmp_path / "q.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


def test_pairs_cifar10_jpeg_dataset_uses_the_cached_resnet_predictions(tmp_path, monkeypatch):
    """cifar10-test-jpeg tables the four pretrained CIFAR ResNets' predictions (computed once by
    `predict.cached_predictions`; replaced here by synthetic records to keep the test fast)."""
    from littlebig_utils import _names
    from littlebig_utils.run import predict
    from littlebig_utils.core.predictions import Predictions
    files = _zoo(tmp_path, gmacs=(0.04, 0.07, 0.1), names=_names.CIFAR_RESNETS[:3])
    (tmp_path / "b").mkdir()
    files += _zoo(tmp_path / "b", seed=0, gmacs=(0.13,), names=_names.CIFAR_RESNETS[3:])[:1]
    by_name = {p.name: p for p in map(Predictions.load, files)}
    asked = []
    monkeypatch.setattr(predict, "cached_predictions",
                        lambda m, ds, **kw: asked.append((m, ds)) or by_name[m])
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--dataset", "cifar10-test-jpeg", "--out", str(out)]) == 0
    assert asked == [(m, "cifar10-test-jpeg") for m in _names.CIFAR_RESNETS]
    assert len(pd.read_csv(out)) == 6
