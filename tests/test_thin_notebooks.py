"""Thin notebooks (issue 17, point 9): at most 80 code lines, and imports of the package only
through its public names (`from littlebig_utils import Cascade, ...`) and the book layer.

THIN lists the notebooks converted so far; every notebook belongs there once its chapter
helpers have moved to littlebig_utils/book/chapters/.
"""
import ast
import json
from pathlib import Path

import pytest

import littlebig_utils

ROOT = Path(__file__).resolve().parents[1]
THIN = ["all_pairs", "fig01_macs_vs_accuracy", "fig03_threshold_curves", "tab02_model_pairs",
        "tab03_baselines", "multistage", "tutorial_own_models", "cifar_pairs", "confidence_scores",
        "transfer_cifar10h", "transfer_shift", "deferral_rules", "tabA4_throughput_latency",
        "heldout_thresholds", "guaranteed_thresholds", "transfer_real", "limits_open_questions",
        "titans_distillation"]
MAX_CODE_LINES = 80


def code_cells(name: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def code_lines(sources: list[str]) -> int:
    """Non-empty, non-comment lines of the code cells."""
    return sum(1 for s in sources for line in s.splitlines()
               if line.strip() and not line.strip().startswith("#"))


def package_imports(sources: list[str]) -> list[str]:
    """Every import of littlebig_utils in the cells, as 'module' or 'module:name'."""
    found = []
    for src in sources:
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names if a.name.split(".")[0] == "littlebig_utils"]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "littlebig_utils":
                found += [f"{node.module}:{a.name}" for a in node.names]
    return found


def allowed(imp: str) -> bool:
    module, _, name = imp.partition(":")
    if module == "littlebig_utils":
        return name in littlebig_utils.__all__  # the public API
    return module == "littlebig_utils.book" or module.startswith("littlebig_utils.book.")


@pytest.mark.parametrize("name", THIN)
def test_notebook_is_thin_and_uses_public_names_and_the_book_only(name):
    sources = code_cells(name)
    assert code_lines(sources) <= MAX_CODE_LINES
    imports = package_imports(sources)
    assert imports and [i for i in imports if not allowed(i)] == []


def test_the_check_catches_an_internal_import():
    assert not allowed("littlebig_utils:cli") and not allowed("littlebig_utils.core:engine")
    assert not allowed("littlebig_utils.core.engine:sweep") and allowed("littlebig_utils:sweep")
    assert package_imports(["import littlebig_utils.cli\nfrom littlebig_utils import cli"]) == [
        "littlebig_utils.cli", "littlebig_utils:cli"]
    assert code_lines(["# c\n\nx = 1\n  # d\ny = 2"]) == 2
