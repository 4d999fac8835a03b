import os

import pytest
from hypothesis import Phase, settings

# mutation runs (make mutation): few derandomized examples, no example database in mutants/,
# no shrinking (a failing example is enough to kill a mutant; shrinking it can take longer than
# mutmut's timeout)
settings.register_profile("mutation", max_examples=20, derandomize=True, database=None,
                          deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

# tests never touch the network; reference data comes from LITTLEBIG_DATA_DIR (set by the Makefile)
os.environ.setdefault("LITTLEBIG_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _results_in_tmp(tmp_path_factory, monkeypatch):
    """Generated files go to a temporary folder, never into the repository's results/."""
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path_factory.getbasetemp() / "results"))


def pytest_ignore_collect(collection_path, config):
    """Under mutmut (it sets MUTANT_UNDER_TEST in every phase) collect only the core's unit
    tests (tests/mutation_scope.py): mutants are of littlebig_utils/core only."""
    if "MUTANT_UNDER_TEST" not in os.environ or not collection_path.name.startswith("test_"):
        return None
    if collection_path.suffix != ".py":
        return None
    from mutation_scope import is_core_unit_test
    return None if is_core_unit_test(collection_path) else True


@pytest.fixture(scope="module")
def zoo():
    """An ImageNet chapter's zoo on five synthetic models (test_headlines.make_records), for the
    tests of the shared module and of the chapters all_pairs, fig01, tab02 and tab03."""
    from littlebig_utils.book import headlines
    from test_headlines import make_records
    return headlines.load_zoo(records=make_records())
