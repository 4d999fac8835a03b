"""`load` and the reference models against independently published numbers (timm's tables)."""
import numpy as np
import pytest

import littlebig_utils
from littlebig_utils.data import DATASETS
from littlebig_utils.data import reference
from littlebig_utils.data import registry as data


@pytest.fixture(scope="module")
def models():
    return reference.models_table().set_index("model")


def test_every_file_matches_its_own_architecture_within_half_a_point(models):
    assert len(models) == 14
    for name, row in models.iterrows():
        arch = reference.REFERENCE_ARCH[name][0]
        assert row.timm_tag.split(".")[0] == arch
        assert abs(row.top1 - row.timm_top1) <= 0.005, name  # fractions
        assert (row.closest_timm_tag, row.closest_img_size) == (row.timm_tag, row.img_size), name
        assert not row.flagged


def test_models_table_is_in_fractions(models):
    assert models["top1"].between(0.6, 0.85).all() and models["real_top1"].between(0.65, 0.9).all()
    assert models.loc["resnet34", "top1"] == pytest.approx(0.75112)


def test_known_matches(models):
    b3 = models.loc["efficientnet_b3a"]
    assert (b3.timm_tag, b3.img_size) == ("efficientnet_b3.ra2_in1k", 320)
    assert models.loc["gluon_senet154", "timm_tag"] == "senet154.gluon_in1k"
    assert models.loc["tf_inception_v3", "timm_tag"] == "inception_v3.tf_in1k"
    assert models.loc["resnet101", "timm_tag"] == "resnet101.tv_in1k"
    assert models.loc["inception_v3", "img_size"] == 299


def test_a_committed_tag_that_is_not_the_closest_match_is_flagged(monkeypatch):
    table = dict(reference._committed_table())
    wrong = dict(table[("imagenet-val", "resnet34")], timm_tag="resnet34.a1_in1k", img_size=288)
    table[("imagenet-val", "resnet34")] = wrong
    monkeypatch.setattr(reference, "_committed_table", lambda: table)
    reference.models_table.cache_clear()
    try:
        flagged = reference.models_table().set_index("model")["flagged"]
    finally:
        reference.models_table.cache_clear()
    assert flagged["resnet34"] and not flagged.drop("resnet34").any()


def test_real_join_reproduces_timm_real_table(models):
    """ReaL top-1 from our join agrees with timm's results-imagenet-real.csv within 0.05 points."""
    close = models[(models.real_top1 - models.timm_real_top1).abs() <= 0.0005]
    assert len(close) >= 2
    for name in ["resnet101", "mixnet_m", "resnext50_32x4d", "tf_inception_v3"]:
        assert models.loc[name, "real_top1"] == pytest.approx(models.loc[name, "timm_real_top1"], abs=0.0005)


def test_gmacs_agree_with_timm_benchmark_table(models):
    # timm's benchmark counts a few elementwise ops FlopCounterMode does not: agree within 8 %
    for name, row in models.iterrows():
        assert row.gmacs == pytest.approx(row.timm_bench_gmacs, rel=0.08), name


# ------------------------------------------------------------------------------------ load

def test_load_reads_only_the_models_asked_for(monkeypatch):
    """load_reference([A]) used to read (and verify) all 14 prediction files."""
    read = []
    fetch = data.fetch
    monkeypatch.setattr(data, "fetch", lambda key: read.append(key) or fetch(key))
    records = reference.load("imagenet-val", ["resnet34", "densenet161"])
    assert list(records) == ["resnet34", "densenet161"]  # the order asked for
    assert sorted(k for k in read if k.startswith("imagenet/predictions/")) == [
        "imagenet/predictions/timm/resnet34.csv", "imagenet/predictions/torchvision/densenet161.csv"]
    assert not any(k.startswith("timm/") or k == "imagenet/real.json" for k in read)


def test_load_gives_the_files_predictions_and_the_committed_metadata():
    little, big = reference.load("imagenet-val", ["mobilenetv3_large_100", "efficientnet_b3a"]).values()
    raw = data.load_imagenet_predictions("efficientnet_b3a")
    np.testing.assert_array_equal(big.preds, raw.preds)
    np.testing.assert_array_equal(big.conf, raw.conf)
    np.testing.assert_array_equal(big.sample_ids, data.imagenet_sample_ids())
    assert big.dataset == "imagenet-val" and len(big) == 50_000
    assert big.model == {"name": "efficientnet_b3a", "source": "timm", "arch": "efficientnet_b3",
                         "timm_tag": "efficientnet_b3.ra2_in1k", "img_size": 320,
                         "gmacs": 1.961176448, "params_m": 12.233232}
    assert little.model["gmacs"] == 0.21658976 and little.accuracy == pytest.approx(0.75768)


def test_load_all_equals_one_at_a_time():
    every = reference.load("imagenet-val")
    assert list(every) == sorted(data.IMAGENET_MODELS)
    one = reference.load("imagenet-val", ["gluon_senet154"])["gluon_senet154"]
    assert one.model == every["gluon_senet154"].model
    np.testing.assert_array_equal(one.conf, every["gluon_senet154"].conf)


def test_load_is_public_and_the_same_everywhere():
    import littlebig_utils.data
    assert littlebig_utils.load is reference.load is littlebig_utils.data.load


def test_cifar10_test_reference_predictions():
    recs = reference.load("cifar10-test")
    assert list(recs) == ["resnet110", "densenet40"]
    r110, d40 = recs["resnet110"], recs["densenet40"]
    assert len(r110) == 10_000 and r110.sample_ids[0] == "test_00000"
    np.testing.assert_array_equal(r110.labels, data.cifar10_test_labels())
    assert r110.accuracy == pytest.approx(0.9356) and d40.accuracy == pytest.approx(0.9242)
    assert r110.model["arch"] == "cifar_resnet110" and r110.model["img_size"] == 32
    assert r110.model["gmacs"] == pytest.approx(0.2529, abs=1e-4)  # He et al.: 253M FLOPs
    assert "gmacs" not in d40.model  # no architecture here to count: never guessed


@pytest.mark.parametrize("dataset", ["imagenet-vall", "ImageNet-val", "cifar10", None])
def test_unknown_dataset_names_close_ones(dataset):
    with pytest.raises(ValueError, match="unknown dataset") as err:
        reference.load(dataset)
    msg = str(err.value)
    assert "\n" not in msg and "cifar10-test" in msg  # the known names are listed
    if dataset == "imagenet-vall":
        assert "Did you mean 'imagenet-val'" in msg


def test_unknown_model_names_close_ones():
    with pytest.raises(data.DataError, match="'resnet35' of imagenet-val. Did you mean 'resnet34'"):
        reference.load("imagenet-val", ["resnet34", "resnet35"])
    with pytest.raises(data.DataError, match="'resnet34' of cifar10-test. Did you mean 'resnet110'"):
        reference.load("cifar10-test", ["resnet34"])


@pytest.mark.parametrize("models, match", [("resnet34", r"write \['resnet34'\]"),
                                           ([], "models is empty"),
                                           (["resnet34", "resnet34"], "more than once")])
def test_bad_model_lists_are_refused(models, match):
    with pytest.raises(data.DataError, match=match):
        reference.load("imagenet-val", models)


def test_imagenet_real_is_refused_with_the_way_to_score_it():
    with pytest.raises(data.DataError, match="several correct labels.*real_correct"):
        reference.load("imagenet-real")


@pytest.mark.parametrize("dataset", ["cifar10-test-jpeg", "cifar10-train"])
def test_datasets_without_reference_predictions_name_the_command(dataset):
    with pytest.raises(data.DataError, match=f"`littlebig predict --dataset {dataset} "):
        reference.load(dataset)
    assert reference.reference_models(dataset) == ()


def test_every_dataset_is_handled():
    for dataset in DATASETS:
        try:
            reference.load(dataset, None)
        except data.DataError as exc:
            assert dataset in str(exc) and "unknown dataset" not in str(exc)


def test_real_correct_agrees_with_real_accuracy():
    recs = reference.load("imagenet-val", ["resnet34", "resnet101"])
    correct, valid = reference.real_correct(recs)
    real = data.load_real_labels()
    for name, p in recs.items():
        assert correct[name][valid].mean() == pytest.approx(data.real_accuracy(p.preds, real))
    assert 0.9 < valid.mean() < 1
    with pytest.raises(data.DataError, match="align them first"):
        reference.real_correct({"a": recs["resnet34"], "b": recs["resnet101"].subset(np.arange(10))})


def test_committed_table_covers_every_reference_model_with_its_architecture():
    table = reference._committed_table()
    for name in data.IMAGENET_MODELS:
        assert table[("imagenet-val", name)]["arch"] == reference.REFERENCE_ARCH[name][0]
    assert set(table) == {("imagenet-val", n) for n in data.IMAGENET_MODELS} | {("cifar10-test", "resnet110")}
    with pytest.raises(data.DataError, match="no row for reference model 'densenet40'"):
        reference.committed_metadata("cifar10-test", "densenet40")
