"""Example budgets for property tests: the number a test asks for, capped in mutation runs.

`make mutation` sets HYPOTHESIS_PROFILE=mutation (tests/conftest.py registers it: 20
derandomized examples), so each mutant costs seconds; ordinary runs keep the full budget.
"""
import os

from hypothesis import settings


def examples(n: int) -> int:
    """`n`, or the active profile's smaller budget under HYPOTHESIS_PROFILE=mutation."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "mutation":
        return min(n, settings().max_examples)
    return n
