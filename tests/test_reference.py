"""The reference models against independently published numbers (timm's tables)."""
import pytest

from littlebig_utils.run import costs
from littlebig_utils.data import reference


@pytest.fixture(scope="module")
def models():
    return reference.models_table().set_index("model")


def test_every_file_matches_its_own_architecture_within_half_a_point(models):
    assert len(models) == 14
    for name, row in models.iterrows():
        arch = reference.REFERENCE_ARCH[name][0]
        assert row.timm_tag.split(".")[0] == arch
        assert abs(row.top1 - row.timm_top1) <= 0.5, name
        assert not row.flagged


def test_known_matches(models):
    b3 = models.loc["efficientnet_b3a"]
    assert (b3.timm_tag, b3.img_size) == ("efficientnet_b3.ra2_in1k", 320)
    assert models.loc["gluon_senet154", "timm_tag"] == "senet154.gluon_in1k"
    assert models.loc["tf_inception_v3", "timm_tag"] == "inception_v3.tf_in1k"
    assert models.loc["resnet101", "timm_tag"] == "resnet101.tv_in1k"
    assert models.loc["inception_v3", "img_size"] == 299


def test_real_join_reproduces_timm_real_table(models):
    """ReaL top-1 from our join agrees with timm's results-imagenet-real.csv within 0.05 points."""
    close = models[(models.real_top1 - models.timm_real_top1).abs() <= 0.05]
    assert len(close) >= 2
    for name in ["resnet101", "mixnet_m", "resnext50_32x4d", "tf_inception_v3"]:
        assert models.loc[name, "real_top1"] == pytest.approx(models.loc[name, "timm_real_top1"], abs=0.05)


def test_resnet18_gmacs():
    gmacs, params = costs.arch_gmacs("resnet18", 224)
    assert gmacs == pytest.approx(1.82, rel=0.01)
    assert params == pytest.approx(11.69, rel=0.01)


def test_gmacs_agree_with_timm_benchmark_table(models):
    # timm's benchmark counts a few elementwise ops FlopCounterMode does not: agree within 8 %
    for name, row in models.iterrows():
        assert row.gmacs == pytest.approx(row.timm_bench_gmacs, rel=0.08), name


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
