"""Chapter tutorial_own_models: one-line errors for bad parameters (issue 17), the `littlebig`
commands it runs, and the command line agreeing with the `Cascade` fits it shows."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from littlebig_utils import Cascade, Predictions, split
from littlebig_utils.book.chapters import tutorial_own_models as chapter
from littlebig_utils.book.notebook import ParameterError

ROOT = Path(__file__).resolve().parents[1]
GOOD = dict(little="cifar_resnet20", big="cifar_resnet56", dataset="cifar10-test-jpeg", limit=None,
            max_loss=0.005, delta=0.05, calib_frac=0.5, seed=0)


def check(**changes):
    return chapter.check_parameters(**{**GOOD, **changes})


def fake_pair(folder: Path, little_gmacs=0.04, big_gmacs=0.13, n=2000, seed=0, tag="__n500"):
    """Two Predictions files named as the chapter names them (so `predict_pair` finds them):
    the big model is right more often, the little one is right when confident."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    files = {}
    for role, name, g, acc in (("little", GOOD["little"], little_gmacs, 0.85),
                               ("big", GOOD["big"], big_gmacs, 0.93)):
        conf = rng.uniform(0.2, 1.0, n)
        right = rng.uniform(size=n) < acc * (0.6 + 0.4 * conf) / 0.8
        preds = np.where(right, labels, (labels + 1) % 10)
        p = Predictions(np.arange(n).astype(str), labels, preds, conf,
                        model={"name": name, "gmacs": g}, dataset=GOOD["dataset"])
        files[role] = folder / f"{name}__{GOOD['dataset']}{tag}.npz"
        p.save(files[role])
    return files


def test_good_parameters_pass_through():
    assert check() == (None, 0.005, 0.05, 0.5, 0)
    assert check(limit=500, seed=3.0)[0::4] == (500, 3)


@pytest.mark.parametrize("changes, message", [
    (dict(limit=-3), r"^parameter limit must be an integer >= 1, got -3 \(e.g. -p limit 500\)$"),
    (dict(limit=0), r"^parameter limit must be an integer >= 1, got 0"),
    (dict(limit="abc"), r"^parameter limit must be an integer >= 1, got 'abc'"),
    (dict(limit=2.5), r"^parameter limit must be an integer >= 1, got 2.5"),
    (dict(max_loss=0.5), r"^parameter max_loss.*50 accuracy points.*0.005"),
    (dict(max_loss="x"), r"^parameter max_loss"),
    (dict(delta=1.5), r"^parameter delta"),
    (dict(calib_frac=1.0), r"^parameter calib_frac must lie strictly between 0 and 1"),
    (dict(seed=-1), r"^parameter seed must be an integer >= 0"),
    (dict(dataset="cifar11"), r"^unknown dataset 'cifar11': one of .*cifar10-test-jpeg"),
    (dict(big="cifar_resnet20"), r"^little and big are both 'cifar_resnet20'"),
    (dict(little=None), r"^parameter little must be a model name, got None"),
])
def test_bad_parameters_give_one_line(changes, message):
    with pytest.raises(ParameterError, match=message) as e:
        check(**changes)
    assert "\n" not in str(e.value)


def test_swapped_models_are_refused_by_their_recorded_cost(tmp_path):
    fake_pair(tmp_path, little_gmacs=0.13, big_gmacs=0.04)  # the "little" one costs more
    with pytest.raises(ParameterError, match=r"^little model cifar_resnet20 \(0.13 GMACs\) is not cheaper "
                       r"than big model cifar_resnet56 \(0.04 GMACs\): swap them "
                       r"\(-p little cifar_resnet56 -p big cifar_resnet20\)$"):
        chapter.predict_pair(GOOD["little"], GOOD["big"], GOOD["dataset"], 500, tmp_path)


def test_existing_files_are_used_as_they_are(tmp_path):
    files = fake_pair(tmp_path)
    assert chapter.predict_pair(GOOD["little"], GOOD["big"], GOOD["dataset"], 500, tmp_path) == files


def test_unknown_model_stops_with_the_commands_one_line(tmp_path):
    """`littlebig predict` (a subprocess of the installed script) refuses the name; the chapter
    says which parameter and keeps the command's own line, with its close matches."""
    with pytest.raises(ParameterError, match=r"^parameter little: .*unknown model 'cifar_resnet5'.*cifar_resnet20") as e:
        chapter.predict_pair("cifar_resnet5", GOOD["big"], GOOD["dataset"], 10, tmp_path)
    assert "\n" not in str(e.value)
    assert not list(tmp_path.glob("*.npz"))


def test_the_command_line_gives_the_thresholds_of_the_cascades_shown(tmp_path):
    """What the tutorial says: `littlebig threshold` with the same files, split and parameters
    gives the three thresholds of the `Cascade` fits in its section 3 (and the check can fail)."""
    files = fake_pair(tmp_path)
    lo, bi = Predictions.load(files["little"]), Predictions.load(files["big"])
    calib, test = split(len(lo), 0.5, 0)
    rows = {rule: Cascade(rule=rule, max_loss=0.01, delta=0.1).fit(lo.subset(calib), bi.subset(calib))
            .evaluate(lo.subset(test), bi.subset(test)).to_dict()
            for rule in ("no_loss", "max_loss", "guaranteed")}
    rules = pd.DataFrame.from_dict(rows, orient="index")
    cli = chapter.cli_thresholds(files, 0.01, 0.1, 0.5, 0)
    assert list(cli.index) == ["no_loss", "max_loss", "guaranteed"]
    assert chapter.cli_agreement(files, rules, 0.01, 0.1, 0.5, 0).startswith("Run on this chapter's two files, it gives the same")
    moved = rules.assign(threshold=rules["threshold"] + 0.01)
    assert chapter.cli_agreement(files, moved, 0.01, 0.1, 0.5, 0).startswith("**Run on this chapter's two files, it gives other")


def test_guarantee_sentence_in_points_and_percent():
    class Fitted:
        threshold_, max_loss = 0.61234, 0.005

    class Report:
        frac_big, accuracy_loss, cost_reduction = 0.123, 0.0021, 0.456
    text = chapter.guarantee_sentence(Fitted, Report, 250, 250)
    assert "T = 0.612" in text and "12.3 %" in text and "-0.21 points" in text
    assert "down to -0.5)" in text and "saves 45.6 %" in text
    Fitted.threshold_ = None
    assert "no threshold can be certified" in chapter.guarantee_sentence(Fitted, Report, 250, 250)


def _run_tutorial(tmp_path, monkeypatch, **params):
    pm = pytest.importorskip("papermill")
    import nbformat
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path / "results"))
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError):
        pm.execute_notebook(str(ROOT / "notebooks" / "tutorial_own_models.ipynb"), str(out),
                            parameters={"smoke": True, **params}, cwd=str(ROOT / "notebooks"),
                            kernel_name="python3", progress_bar=False)
    errors = [o for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert len(errors) == 1 and errors[0].ename == "ParameterError", errors
    assert len(errors[0].traceback) == 1  # one line, not a traceback
    return errors[0].evalue


def test_notebook_refuses_a_non_numeric_limit_in_one_line(tmp_path, monkeypatch):
    """Was `SystemExit: 2` from the command-line parser inside the kernel."""
    assert _run_tutorial(tmp_path, monkeypatch, limit="abc").startswith("parameter limit must be an integer >= 1, got 'abc'")


def test_notebook_refuses_swapped_models_in_one_line(tmp_path, monkeypatch):
    """Was silently run with little and big swapped. The prediction files are made beforehand
    (the names and smoke limit the chapter uses), so no model runs."""
    folder = tmp_path / "results" / "smoke" / "tutorial_own_models"
    folder.mkdir(parents=True)
    fake_pair(folder, little_gmacs=0.13, big_gmacs=0.04)
    assert "is not cheaper than big model" in _run_tutorial(tmp_path, monkeypatch)
