"""The parameters of the held-out, guarantee, ReaL-transfer and limits chapters: papermill reads
every line of their parameters cells (a `=` in a comment makes it skip the line, and `-p` for
that name is then silently "unknown"), and a bad `-p` value stops the notebook with one line
naming the parameter and a value that works, before any computation."""
from pathlib import Path

import nbformat
import pytest

from littlebig_utils.book import notebook

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["heldout_thresholds", "guaranteed_thresholds", "transfer_real", "limits_open_questions",
            "cifar_pairs", "confidence_scores", "transfer_cifar10h", "transfer_shift", "deferral_rules"]


@pytest.mark.parametrize("name", CHAPTERS)
def test_papermill_reads_every_parameter_line(name):
    from papermill.translators import PythonTranslator
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    lines = [line for line in cell.source.splitlines() if line.strip()]
    assert len(PythonTranslator.inspect(cell)) == len(lines), cell.source


def test_list_parameters_arrive_as_text_from_papermill_p():
    # papermill -p passes '[0.0025, 0.005]' as a string: it is read as the list it spells
    assert notebook.listed("[0.0025, 0.005]") == [0.0025, 0.005]
    assert notebook.listed("[0.0025, 0.005") == "[0.0025, 0.005"  # not a literal: unchanged
    assert notebook.listed("__import__('os')") == "__import__('os')"  # never evaluated
    assert notebook.max_losses("max_losses", "[0.0025, 0.005]") == [0.0025, 0.005]
    with pytest.raises(notebook.ParameterError, match="50 accuracy points"):
        notebook.max_losses("max_losses", "[0.5]")


BAD = [  # (notebook, -p name, -p value, the one line it must end with)
    ("heldout_thresholds", "n_splits", "abc",
     "parameter n_splits must be an integer >= 1, got 'abc' (e.g. -p n_splits 200)"),
    ("heldout_thresholds", "calibration_frac", "1.5",
     "parameter calibration_frac must lie strictly between 0 and 1, got 1.5 (e.g. -p calibration_frac 0.2)"),
    ("guaranteed_thresholds", "max_losses", "0.5",
     "parameter max_losses must be a list of fractions of accuracy, got 0.5 (e.g. -p max_losses '[0.005]' "
     "for half a point)"),
    ("guaranteed_thresholds", "max_losses", "[0.5]",
     "parameter max_losses=0.5 is refused: as a fraction it means 50 accuracy points; if you meant 0.5 "
     "points pass 0.005 (fractions up to 0.1 are accepted)"),
    ("guaranteed_thresholds", "deltas", "[0.05, 5]", "parameter deltas is the probability that the "
     "guarantee fails and must lie strictly between 0 and 1, got 5 (e.g. -p deltas 0.05)"),
    ("limits_open_questions", "max_loss", "0.5",
     "parameter max_loss=0.5 is refused: as a fraction it means 50 accuracy points; if you meant 0.5 "
     "points pass 0.005 (fractions up to 0.1 are accepted) (e.g. -p max_loss 0.005)"),
    ("cifar_pairs", "models", "cifar_resnet20",
     "parameter models must be a list of CIFAR ResNets, got 'cifar_resnet20' (e.g. -p models "
     "'[\"cifar_resnet20\", \"cifar_resnet32\", \"cifar_resnet44\", \"cifar_resnet56\"]')"),
    ("deferral_rules", "max_loss", "0.5",
     "parameter max_loss=0.5 is refused: as a fraction it means 50 accuracy points; if you meant 0.5 "
     "points pass 0.005 (fractions up to 0.1 are accepted) (e.g. -p max_loss 0.005)"),
    ("transfer_shift", "seed", "-1", "parameter seed must be an integer >= 0, got -1 (e.g. -p seed 1)"),
    ("transfer_real", "second_dir", "/no/such/folder",
     "parameter second_dir='/no/such/folder' is not a folder of MODEL.npz Predictions files "
     "(e.g. -p second_dir ~/imagenet_v2_predictions)"),
]


@pytest.mark.xdist_group("notebooks")
@pytest.mark.parametrize("name,param,value,line", BAD, ids=[f"{b[0]}-{b[1]}-{b[2]}" for b in BAD])
def test_bad_parameter_is_one_line(name, param, value, line, tmp_path, capsys):
    pytest.importorskip("papermill")
    out = tmp_path / "out.ipynb"
    rc = notebook.main(["-k", "python3", "--no-progress-bar", "--cwd", str(ROOT / "notebooks"),
                        "-p", param, value, "-p", "smoke", "True",
                        str(ROOT / "notebooks" / f"{name}.ipynb"), str(out)])
    cells = nbformat.read(out, as_version=4).cells
    errors = [(i, o) for i, c in enumerate(cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert [(o.ename, o.evalue) for _, o in errors] == [("ParameterError", line)]
    assert rc == 1
    # stopped in the code cell right after the (injected) parameters, before any computation
    injected = next(i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", []))
    assert errors[0][0] == next(i for i, c in enumerate(cells) if i > injected and c.cell_type == "code")
