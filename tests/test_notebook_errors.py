"""A notebook's parameter error reaches papermill as one line, not a traceback."""
import nbformat
import pytest

from littlebig_utils.book import notebook


def test_parameter_error_is_one_line_in_papermill(tmp_path):
    pytest.importorskip("papermill")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("little = 'resnet5'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from littlebig_utils.book.notebook import ParameterError\n"
            "def check(name):\n"
            "    raise ParameterError(f'unknown little model {name!r}: did you mean resnet34?')\n"
            "check(little)"),
    ]
    nb.metadata.update(kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
                       language_info={"name": "python"})
    src = tmp_path / "nb.ipynb"
    nbformat.write(nb, src)
    # the wrapper command ends with that line and a non-zero status
    rc = notebook.main(["-k", "python3", "--no-progress-bar", "-p", "little", "resnet5",
                        str(src), str(tmp_path / "out.ipynb")])
    errors = [o for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert [(o.ename, o.traceback) for o in errors] == [
        ("ParameterError", ["ParameterError: unknown little model 'resnet5': did you mean resnet34?"])]
    assert rc == 1


def test_short_errors_outside_ipython_is_a_no_op():
    # a fresh interpreter: another test in this worker may have started an IPython shell
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", "from littlebig_utils.book import notebook; "
                        "print(notebook.short_errors())"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
    assert issubclass(notebook.ParameterError, ValueError)


def test_injected_parameters_cell_is_collapsed(tmp_path):
    import nbformat
    from littlebig_utils.book.notebook import hide_injected_parameters
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("smoke = False", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("smoke = True", metadata={"tags": ["injected-parameters"]})]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    hide_injected_parameters(path)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].metadata["tags"] == ["parameters"]
    assert cells[1].metadata["tags"] == ["injected-parameters", "hide-input"]


# ------------------------------------------------------------------ parameter checks (issue 17)

def test_parameter_checks_name_the_parameter_and_an_example():
    from littlebig_utils.book import notebook as nbk
    assert nbk.integer("n_splits", 200, minimum=1) == 200
    assert nbk.integer("n_splits", 20.0, minimum=1) == 20
    for bad in ("abc", 0, -3, 2.5, True, None):
        with pytest.raises(nbk.ParameterError, match=r"^parameter n_splits must be an integer >= 1, got .*-p n_splits"):
            nbk.integer("n_splits", bad, minimum=1)
    assert nbk.number("calib_frac", 0.2, 0, 1) == 0.2
    for bad in ("x", float("nan"), 1.5, -0.1):
        with pytest.raises(nbk.ParameterError, match=r"^parameter calib_frac must be a number in \[0, 1\]"):
            nbk.number("calib_frac", bad, 0, 1)


def test_max_losses_refuses_a_bare_number_and_points():
    from littlebig_utils.book import notebook as nbk
    assert nbk.max_losses("max_losses", [0.0025, 0.005]) == [0.0025, 0.005]
    with pytest.raises(nbk.ParameterError, match=r"must be a list of fractions.*-p max_losses '\[0.005\]'"):
        nbk.max_losses("max_losses", 0.5)
    with pytest.raises(nbk.ParameterError, match=r"50 accuracy points.*0.005"):
        nbk.max_losses("max_losses", [0.5])
    with pytest.raises(nbk.ParameterError, match="empty"):
        nbk.max_losses("max_losses", [])
