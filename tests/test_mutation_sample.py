"""The mutation-sample machinery (.ci/mutation_sample.py, tests/mutation_scope.py) without mutmut."""
import importlib.util
import random
from pathlib import Path

import pytest

from mutation_scope import core_modules, core_unit_tests, is_core_unit_test

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("mutation_sample", ROOT / ".ci" / "mutation_sample.py")
ms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ms)


def test_draw_is_seeded_and_independent_of_listing_order():
    names = [f"littlebig_utils.core.m{i % 7}.x_f__mutmut_{i}" for i in range(1000)]
    shuffled = random.Random(5).sample(names, len(names))
    sample = ms.draw(names, 40, seed=3)
    assert sample == ms.draw(shuffled, 40, seed=3) == sorted(sample)
    assert sample == sorted(random.Random(3).sample(sorted(names), 40))
    assert len(set(sample)) == 40 and set(sample) <= set(names)
    assert sample != ms.draw(names, 40, seed=4)
    assert ms.draw(names[:10], 400, seed=0) == sorted(names[:10])  # the whole population
    with pytest.raises(ms.SampleError, match="--sample must be a positive"):
        ms.draw(names, 0, seed=0)


def test_draw_is_uniform_over_modules_of_any_size():
    # module a has 900 mutants, b 100: a uniform draw takes about 10 % of its mutants from b
    names = [f"p.a.x__mutmut_{i}" for i in range(900)] + [f"p.b.x__mutmut_{i}" for i in range(100)]
    from_b = sum(ms.module_of(n) == "p.b" for seed in range(200) for n in ms.draw(names, 50, seed))
    assert abs(from_b / (200 * 50) - 0.1) < 0.015


def test_score_counts_timeouts_as_killed_and_only_not_killed_equivalents():
    status = {"a": "killed", "b": "timeout", "c": "survived", "d": "no tests", "e": "survived"}
    verdicts = {"a": "equivalent: marked but killed", "c": "equivalent: same for every input",
                "d": "killed later: test_d", "e": "open"}
    s = ms.score(status, verdicts)
    assert (s["sampled"], s["killed"], s["equivalent"]) == (5, 2, 1)
    assert s["raw"] == pytest.approx(2 / 5) and s["score"] == pytest.approx(2 / 4)


def test_survivors_table_round_trip_and_refusals():
    change = ms.cell(ms.word_diff("if a | b < `c`:", "if a | b <= `c`:"))
    assert change == "if a \\| b <{+=+} 'c':"
    text = "\n".join(["intro", ms.BEGIN, "Sample of ...", "", "| mutant | change | status | verdict |",
                      "|---|---|---|---|",
                      f"| `m.x_f__mutmut_1` | `{change}` | survived -> survived | equivalent: a | b never differ |",
                      "| `m.xǁCǁg__mutmut_2` | `[-x-]{+None+}` | no tests -> killed | killed later |",
                      ms.END, "outro"])
    assert ms.read_table(text) == {
        "m.x_f__mutmut_1": (change, "equivalent: a | b never differ"),
        "m.xǁCǁg__mutmut_2": ("[-x-]{+None+}", "killed later")}
    with pytest.raises(ms.SampleError, match="marked equivalent without an argument"):
        ms.read_table(text.replace("equivalent: a | b never differ", "equivalent"))
    assert ms.read_table("no table here") == {}


def test_word_diff_shows_only_the_changed_part_with_context():
    assert ms.word_diff("return x + 1", "return x - 1") == "return x [-+-]{+-+} 1"
    assert ms.word_diff("f(a, b)", "f(a)") == "f(a[-, b-])"
    long = "x" * 50
    assert ms.word_diff(long + "<" + long, long + "<=" + long) == "..." + "x" * 29 + "<{+=+}" + "x" * 30 + "..."


def test_core_unit_tests_are_named_after_the_core_modules():
    modules = ["cascade", "pairs", "predictions"]
    for name in ["test_cascade.py", "test_cascade_subsets.py", "test_pairs_tables.py",
                 "test_core_defects.py", "test_predictions.py", "core/test_anything.py"]:
        assert is_core_unit_test(Path("tests") / name, modules), name
    for name in ["test_predict.py", "test_cascadeish.py", "test_cli.py", "conftest.py",
                 "test_cascade.txt"]:
        assert not is_core_unit_test(Path("tests") / name, modules), name
    assert set(core_modules()) >= {"engine", "predictions", "checks", "ltt", "pvalues"}
    selected = {p.name for p in core_unit_tests()}
    assert {"test_predictions.py", "test_checks.py", "test_cascade.py", "test_thresholds.py",
            "test_betting.py"} <= selected and "test_cli.py" not in selected


def test_mutmut_deselects_still_name_tests():
    # a stale --deselect would let a minute-long test run against every mutant it covers
    assert ms.stale_deselects() == []
