"""One validator per quantity (littlebig_utils.core.checks): boundaries, units, one-line errors."""
import numpy as np
import pytest

from littlebig_utils.core import checks
from littlebig_utils.core import engine
from littlebig_utils.core.checks import InputError


# ------------------------------------------------------------------ max_loss: the unit trap

@pytest.mark.parametrize("ok", [0, 0.0, 0.005, 0.05, checks.MAX_LOSS_LIMIT, np.float64(0.01), 1e-9])
def test_max_loss_accepts_fractions_up_to_the_limit(ok):
    assert checks.check_max_loss(ok) == float(ok)


def test_max_loss_in_points_is_refused_with_both_readings():
    with pytest.raises(InputError) as e:
        checks.check_max_loss(0.5)
    msg = str(e.value)
    assert msg == ("max_loss=0.5 is refused: as a fraction it means 50 accuracy points; if you "
                   "meant 0.5 points pass 0.005 (fractions up to 0.1 are accepted)")
    assert "\n" not in msg
    # just above the limit is refused, the limit itself is not (<= vs <)
    with pytest.raises(InputError, match="as a fraction it means"):
        checks.check_max_loss(np.nextafter(checks.MAX_LOSS_LIMIT, 1))
    with pytest.raises(InputError, match="--epsilon / 100=0.2 is refused"):
        checks.check_max_loss(0.2, "--epsilon / 100")


@pytest.mark.parametrize("bad,match", [(-1e-12, ">= 0"), (float("nan"), "a fraction"),
                                       (float("inf"), "a fraction"), ("0.005", "a fraction"),
                                       (None, "a fraction"), (True, "a fraction"),
                                       ([0.005], "a fraction")])
def test_max_loss_refuses_non_numbers_naming_the_field(bad, match):
    with pytest.raises(InputError, match=f"^max_loss.*{match}"):
        checks.check_max_loss(bad)


# ------------------------------------------------------------------ labels: never truncated

def test_labels_accept_integers_and_integral_floats():
    np.testing.assert_array_equal(checks.check_labels([0, 2, 1]), [0, 2, 1])
    out = checks.check_labels(np.array([0.0, 2.0]))
    assert out.dtype == np.int64 and out.tolist() == [0, 2]


@pytest.mark.parametrize("bad,match", [
    ([1.7, 2.2], "non-integer values such as 1.7"), ([0, -1], "class indices >= 0, found -1"),
    (["cat", "dog"], "labels must be integer class indices, got dtype <U3"),
    ([0.0, np.nan], "NaN"), ([True, False], "dtype bool"), ([[0, 1]], "1-d"),
])
def test_labels_refuse_what_would_be_truncated_or_is_not_a_class(bad, match):
    with pytest.raises(InputError, match=match):
        checks.check_labels(bad)


def test_labels_refuse_a_class_outside_the_models_classes():
    assert checks.check_labels([0, 2], n_classes=3).tolist() == [0, 2]
    with pytest.raises(InputError, match=r"y must lie in \[0, 3\) .* found 3"):
        checks.check_labels([0, 3], "y", n_classes=3)
    with pytest.raises(InputError, match="y has 2 values, expected 3"):
        checks.check_labels([0, 1], "y", n=3)


# ------------------------------------------------------------------ the other quantities

@pytest.mark.parametrize("t", [0, 0.0, 0.5, 1, 1.0])
def test_threshold_bounds_are_inclusive(t):
    assert checks.check_threshold(t) == float(t)


@pytest.mark.parametrize("bad", [-1e-12, 1 + 1e-12, float("nan"), "0.5", None, [0.5]])
def test_threshold_refuses_outside_the_unit_interval(bad):
    with pytest.raises(InputError, match="threshold"):
        checks.check_threshold(bad)


@pytest.mark.parametrize("bad", [0, 0.0, 1, 1.0, -0.1, float("nan")])
def test_delta_and_calib_frac_are_open_intervals(bad):
    with pytest.raises(InputError, match="^delta .*(strictly between 0 and 1|a probability in)"):
        checks.check_delta(bad)
    with pytest.raises(InputError, match="^calib_frac .*(strictly between 0 and 1|a number in)"):
        checks.check_calib_frac(bad)
    assert checks.check_delta(0.05) == 0.05 and checks.check_calib_frac(1e-9) == 1e-9


@pytest.mark.parametrize("bad", [5, "5", (1.0,), (1.0, 2.0, 3.0), (0.0, 1.0), (1.0, float("nan"))])
def test_costs_are_a_pair_of_positive_numbers(bad):
    with pytest.raises(InputError, match="costs|cost"):
        checks.check_costs(bad)
    assert checks.check_costs((0.5, 4)) == (0.5, 4.0) and checks.check_costs(None) is None


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None, True])
def test_seed_is_a_non_negative_integer(bad):
    with pytest.raises(InputError, match="seed must be an integer >= 0"):
        checks.check_seed(bad)
    assert checks.check_seed(0) == 0 and checks.check_seed(np.int64(3)) == 3 and checks.check_seed(2.0) == 2


def test_split_refuses_a_negative_seed_in_its_own_words():
    with pytest.raises(InputError, match="^seed must be an integer >= 0, got -1$"):
        engine.split_indices(100, 0.5, -1)


@pytest.mark.parametrize("bad", [["wsr"], "bonferroni", None, 3])
def test_method_and_choices_refuse_lists_and_unknown_names(bad):
    with pytest.raises(InputError, match="unknown method .*choose one of clopper-pearson"):
        checks.check_method(bad)


def test_correct_accepts_booleans_and_0_1_only():
    assert checks.check_correct([1, 0, 1], "x").tolist() == [True, False, True]
    for bad in ([0.5, 1.0], [2, 0], ["a", "b"]):
        with pytest.raises(InputError, match="x must be booleans"):
            checks.check_correct(bad, "x")


def test_conf_refuses_logits_and_nan():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        checks.check_conf([0.2, 1.5])
    with pytest.raises(InputError, match="1 of 2 conf values are NaN"):
        checks.check_conf([0.2, np.nan])
    with pytest.raises(InputError, match="conf must hold numbers"):
        checks.check_conf(["a"])


# ------------------------------------------------------------------ probabilities or logits

def test_scores_2d_decides_only_unambiguous_arrays():
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    assert checks.check_scores_2d(p)[1] == "probs"
    assert checks.check_scores_2d(np.array([[2.0, -1.0], [0.1, 0.3]]))[1] == "logits"  # < 0
    assert checks.check_scores_2d(np.array([[2.0, 1.0], [0.1, 0.3]]))[1] == "logits"   # > 1
    rounded = np.array([[0.3333, 0.6666], [0.5, 0.5]])  # a row sums to 0.9999: ambiguous
    with pytest.raises(InputError, match="inputs='probs' or inputs='logits'"):
        checks.check_scores_2d(rounded)
    assert checks.check_scores_2d(rounded, inputs="probs")[1] == "probs"
    assert checks.check_scores_2d(rounded, inputs="logits")[1] == "logits"
    with pytest.raises(InputError, match="inputs='probs' needs rows"):
        checks.check_scores_2d(np.array([[0.2, 0.3]]), inputs="probs")
    with pytest.raises(InputError, match="unknown inputs"):
        checks.check_scores_2d(p, inputs="guess")
