"""Which test files are the core's unit tests: the ones mutmut runs against core mutants.

By name, so that the selection follows the core's modules as they are renamed or added:
`tests/test_<module>.py` and `tests/test_<module>_*.py` for every `littlebig_utils/core/<module>.py`,
`tests/test_core*.py`, any `test_*.py` under a `tests/core/` folder, and the few core tests
named otherwise (`EXTRA`). `tests/conftest.py` skips every other test file while mutmut runs
(`pyproject.toml` gives mutmut the whole `tests/` folder), so `mutmut run NAME` by hand uses
the same selection as `make mutation` and `make mutation-sample`.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["CORE", "EXTRA", "core_modules", "is_core_unit_test", "core_unit_tests"]

# littlebig_utils/core beside this tests/ folder (inside mutants/ under mutmut: the same files)
CORE = Path(__file__).resolve().parent.parent / "littlebig_utils" / "core"
# core unit tests whose file name does not follow test_<core module>[_*].py
# core tests named after modules that were merged into others (cascade, thresholds, betting)
EXTRA = frozenset({"test_pairs_tables.py", "test_cascade.py", "test_cascade_subsets.py",
                   "test_thresholds.py", "test_betting.py"})


def core_modules(core: Path = CORE) -> list[str]:
    """Names of the core's modules (no __init__), from the files on disk."""
    return sorted(p.stem for p in core.glob("*.py") if p.stem != "__init__")


def is_core_unit_test(path: Path, modules: list[str] | None = None) -> bool:
    """True for a test file that belongs to the core's unit tests (see the module docstring)."""
    name = Path(path).name
    if not (name.startswith("test_") and name.endswith(".py")):
        return False
    if name in EXTRA or name.startswith("test_core") or "core" in Path(path).parent.parts[-1:]:
        return True
    modules = core_modules() if modules is None else modules
    return any(name == f"test_{m}.py" or name.startswith(f"test_{m}_") for m in modules)


def core_unit_tests(tests: Path = Path(__file__).resolve().parent) -> list[Path]:
    """Every core unit test file under `tests`, sorted."""
    modules = core_modules(tests.parent / "littlebig_utils" / "core")
    return sorted(p for p in tests.rglob("test_*.py") if is_core_unit_test(p, modules))
