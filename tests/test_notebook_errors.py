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
    assert notebook.short_errors() is False
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
