"""The README's Python example and the API chapter's ten-line cascade run, and their numbers hold.

Both blocks are executed as written (extracted from README.md and book/api.md), so neither can
rot; the numbers the README's prose states are read from the prose and compared.
"""
import contextlib
import functools
import io
import re
from pathlib import Path

import pytest

import littlebig_utils
from littlebig_utils import Cascade
from littlebig_utils import CascadeReport
from littlebig_utils import cli
from littlebig_utils.data import reference

ROOT = Path(__file__).resolve().parents[1]


def python_block(path: Path) -> str:
    """The first ```python block of a markdown file."""
    m = re.search(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)
    assert m, f"no ```python block in {path.name}"
    return m.group(1)


@pytest.fixture(scope="module")
def cached_reference():
    """`load` once for both blocks (each loads the same two models)."""
    return functools.lru_cache(maxsize=None)(lambda dataset, names: reference.load(dataset, list(names)))


def run(code: str, cached, monkeypatch) -> tuple[dict, str]:
    monkeypatch.setattr(littlebig_utils, "load", lambda dataset, names: dict(cached(dataset, tuple(names))))
    ns, out = {"__name__": "__readme__"}, io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<example>", "exec"), ns)
    return ns, out.getvalue()


def test_readme_example_runs_and_its_prose_numbers_hold(cached_reference, monkeypatch):
    code = python_block(ROOT / "README.md")
    assert len(code.strip().splitlines()) <= 5
    ns, out = run(code, cached_reference, monkeypatch)
    casc = ns["casc"]
    assert isinstance(casc, Cascade) and casc.rule == "guaranteed"
    assert casc.threshold_ is not None and 0 < casc.threshold_ < 1
    assert f"{casc.threshold_}" in out
    rep = casc.evaluate(ns["little"].subset(ns["test"]), ns["big"].subset(ns["test"]))
    assert rep.n == 25_000 and rep.cost == rep.cost  # costs came from the models' GMACs
    assert rep.accuracy_loss <= casc.max_loss
    prose = re.search(r"loses\s+([\d.]+)\s+points\s+for\s+(\d+)\s+%", (ROOT / "README.md").read_text())
    assert prose, "the README's sentence with the example's numbers is gone"
    assert round(100 * rep.accuracy_loss, 2) == float(prose.group(1))
    assert round(100 * rep.cost_reduction) == int(prose.group(2))


def test_api_chapter_ten_line_cascade_runs(cached_reference, monkeypatch):
    code = python_block(ROOT / "book" / "api.md")
    assert len(code.strip().splitlines()) <= 10
    ns, out = run(code, cached_reference, monkeypatch)
    casc, report, curve, to_big = ns["casc"], ns["report"], ns["curve"], ns["to_big"]
    assert isinstance(report, CascadeReport)
    assert casc.threshold_ is not None
    assert report.accuracy_loss <= casc.max_loss and report.cost_reduction > 0.4
    assert report.frac_big == pytest.approx(to_big.mean())
    assert f"{to_big.mean():.1%}" in out
    # the report is the curve's row at the first test score >= T (conf < T goes to big)
    row = curve[curve["threshold"] >= casc.threshold_].sort_values("threshold").iloc[0]
    assert row["accuracy"] == pytest.approx(report.accuracy)
    assert row["cost_reduction"] == pytest.approx(report.cost_reduction)


def test_api_chapter_lists_every_command():
    """The command-line summary of the API chapter names exactly the commands that exist."""
    text = (ROOT / "book" / "api.md").read_text()
    block = text[text.index("## The command line"):]
    listed = set(re.findall(r"^littlebig (\w+)", block, flags=re.M))
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert listed == set(sub.choices)
