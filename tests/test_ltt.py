"""core.ltt: the method registry dispatches to each method's own p-values."""
import numpy as np
import pytest

from littlebig_utils.core import ltt, pvalues


@pytest.mark.parametrize("method", ["binomial", "hoeffding-bentkus"])
def test_count_methods_reject_by_their_own_p_values(method):
    n, max_loss, delta = 200, 0.05, 0.1
    n_loss = np.arange(0, 12)
    n_gain = np.zeros_like(n_loss)
    got = ltt.rejections(n_loss, n_gain, n, max_loss, delta, method)
    want = pvalues.p_values(n_loss, n_gain, n, max_loss, method) <= delta
    np.testing.assert_array_equal(got, want)
    cp = ltt.rejections(n_loss, n_gain, n, max_loss, delta, "clopper-pearson")
    assert not np.array_equal(got, cp)  # the methods differ here: a mix-up shows
