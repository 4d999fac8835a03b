"""The committed GMACs table (littlebig_utils/data/gmacs.csv) against a fresh count (run layer).

`load` reads GMACs from the committed table and never counts; this test counts every row again
with FlopCounterMode on the meta device (no weights) in an empty cache, and checks that the
table's regeneration command writes the same table.
"""
import csv
import shutil

import pytest

from littlebig_utils.data import reference
from littlebig_utils.run import costs


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


@pytest.fixture(scope="module")
def fresh_counts(tmp_path_factory):
    """An empty cache for this module: nothing counted before it is reused (counted once,
    about 6 s, for both tests)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        costs.arch_gmacs.cache_clear()
        yield
    costs.arch_gmacs.cache_clear()


def test_every_row_is_recounted_equal(fresh_counts):
    rows = _rows(reference.GMACS_TABLE)
    assert len(rows) == 15
    for row in rows:
        gmacs, params = costs.table_counts(row["arch"], int(row["img_size"]))
        assert float(row["gmacs"]) == pytest.approx(gmacs, rel=1e-9), row["model"]
        assert float(row["params_m"]) == pytest.approx(params, rel=1e-9), row["model"]
        if not row["arch"].startswith("cifar_"):  # timm architectures: arch_gmacs itself
            assert (gmacs, params) == costs.arch_gmacs(row["arch"], int(row["img_size"]))


def test_the_regeneration_command_rewrites_the_same_table(fresh_counts, tmp_path):
    copy = tmp_path / "gmacs.csv"
    shutil.copy(reference.GMACS_TABLE, copy)
    lines = copy.read_text().splitlines()
    # spoil the counts: the command must count them again, keeping everything else
    header = lines.index(next(line for line in lines if line.startswith("dataset,")))
    copy.write_text("\n".join(lines[:header + 1]
                              + [",".join(line.split(",")[:-2] + ["0", "0"]) for line in lines[header + 1:]])
                    + "\n")
    costs.write_table(copy)
    new, old = copy.read_text().splitlines(), lines
    assert [line for line in new if line.startswith("#")] == [line for line in old if line.startswith("#")]
    assert "python -m littlebig_utils.run.costs --write-table" in "".join(old[:header])
    for a, b in zip(_rows(copy), _rows(reference.GMACS_TABLE), strict=True):
        assert {k: a[k] for k in ("dataset", "model", "arch", "timm_tag", "img_size")} == \
               {k: b[k] for k in ("dataset", "model", "arch", "timm_tag", "img_size")}
        assert float(a["gmacs"]) == pytest.approx(float(b["gmacs"]), rel=1e-9)
        assert float(a["params_m"]) == pytest.approx(float(b["params_m"]), rel=1e-9)


def test_cifar_resnet110_row_is_the_option_a_network():
    import torch

    from littlebig_utils.run.cifar import CifarResNet
    with torch.device("meta"):
        net = CifarResNet(110)
    meta = reference.committed_metadata("cifar10-test", "resnet110")
    assert meta["gmacs"] == pytest.approx(costs.count_gmacs(net, (3, 32, 32)), rel=1e-9)
    assert meta["params_m"] == pytest.approx(costs.count_params_m(net), rel=1e-9)


# ------------------------------------------------------------------ arch_gmacs itself

def test_resnet18_gmacs():
    gmacs, params = costs.arch_gmacs("resnet18", 224)
    assert gmacs == pytest.approx(1.82, rel=0.01)
    assert params == pytest.approx(11.69, rel=0.01)


def test_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="unknown timm architecture 'resnet_nope'"):
        costs.arch_gmacs("resnet_nope", 224)


def test_gmacs_cache_is_keyed_by_the_architecture_itself(tmp_path, monkeypatch):
    """A cached count made for another definition of the same name is not reused."""
    import json

    import timm
    import torch
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path))
    costs.arch_gmacs.cache_clear()
    # what the cache held for this name before the architecture changed (old-style key)
    stale = {f"cifar_resnet8@32/None/torch{torch.__version__}/timm{timm.__version__}": [9.0, 9.0]}
    (tmp_path / "gmacs.json").write_text(json.dumps(stale))
    try:
        gmacs, params = costs.arch_gmacs("cifar_resnet8", 32)
    finally:
        costs.arch_gmacs.cache_clear()
    from littlebig_utils.run.cifar import CifarResNet
    with torch.device("meta"):
        ref = CifarResNet(8)
    assert gmacs == pytest.approx(costs.count_gmacs(ref, (3, 32, 32)))
    assert params == pytest.approx(costs.count_params_m(ref))
    assert costs.structure_digest(CifarResNet(8)) != costs.structure_digest(CifarResNet(14))
    assert costs.structure_digest(CifarResNet(8)) == costs.structure_digest(CifarResNet(8))
