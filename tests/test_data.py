"""The data registry: verified files, clear errors for missing or corrupt ones."""
import shutil
import subprocess

import numpy as np
import pytest

from littlebig_utils import data

# the real reference data folder (LITTLEBIG_DATA_DIR, set by the Makefile), resolved before any
# test swaps the variable for a fake folder
ORIGINAL_DATA = data.fetch("imagenet/real.json").parents[1]


@pytest.fixture
def fake_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LITTLEBIG_OFFLINE", "1")
    data._VERIFIED.clear()
    return tmp_path / "data"


def test_registry_covers_manifest():
    assert len(data.REGISTRY) == 35
    assert len(data.IMAGENET_MODELS) == 14
    ref = data.REGISTRY["imagenet/real.json"]
    assert ref.url == ("https://raw.githubusercontent.com/google-research/reassessed-imagenet/"
                       "bcd006fe12e929f055e0ec7fe39dbf4d64a6881a/real.json")
    r = data.REGISTRY["imagenet/predictions/timm/resnet34.csv"]
    assert r.source_path == "results/ImageNet_pytorch-image-models/resnet34.csv"
    assert r.license == "MIT"


def test_real_file_verifies():
    path = data.fetch("cifar10h/cifar10h-probs.npy")
    assert data.sha256_of(path) == data.REGISTRY["cifar10h/cifar10h-probs.npy"].sha256


def test_missing_file_offline_names_key_hash_and_fix(fake_data_dir):
    key = "cifar10h/cifar10h-counts.npy"
    with pytest.raises(data.DataError) as err:
        data.fetch(key)
    msg = str(err.value)
    assert key in msg and data.REGISTRY[key].sha256 in msg and "LITTLEBIG_DATA_DIR" in msg


def test_wrong_sha256_is_refused(fake_data_dir):
    key = "cifar10h/cifar10h-counts.npy"
    (fake_data_dir / "cifar10h").mkdir(parents=True)
    bad = fake_data_dir / key
    bad.write_bytes(b"not the real file")
    with pytest.raises(data.DataError) as err:
        data.fetch(key)
    msg = str(err.value)
    assert "corrupt" in msg and data.REGISTRY[key].sha256 in msg and key in msg


def test_truncated_real_file_is_refused(fake_data_dir):
    key = "calibration_logits/probs_resnet110_c10_logits.csv"
    real = data.REGISTRY[key]
    (fake_data_dir / "calibration_logits").mkdir(parents=True)
    # copy the verified original, then cut its last line
    text = ORIGINAL_DATA.joinpath(key).read_bytes()
    (fake_data_dir / key).write_bytes(text[: text.rfind(b"\n", 0, len(text) - 1) + 1])
    with pytest.raises(data.DataError, match=real.sha256):
        data.fetch(key)


def test_cache_is_used_after_data_dir(fake_data_dir, tmp_path):
    key = "cifar10h/cifar10h-probs.npy"
    src = data.REGISTRY[key]
    cached = tmp_path / "cache" / key
    cached.parent.mkdir(parents=True)
    shutil.copy(ORIGINAL_DATA / key, cached)  # not in the data dir, only in the cache
    assert data.fetch(key) == cached
    assert data.sha256_of(cached) == src.sha256


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(data.DataError, match="imagenet/real.json"):
        data.fetch("real.json")


def test_tree_digest_matches_coreutils(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(b"123")
    (tmp_path / "b.jpg").write_bytes(b"abc")
    out = subprocess.run("find . -type f | sort | xargs sha256sum | sha256sum", shell=True,
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()[0]
    assert data.tree_digest(tmp_path) == out


def test_imagenet_join_and_unknown_model():
    ids = data.imagenet_sample_ids()
    assert len(ids) == 50_000 and ids[0] == "ILSVRC2012_val_00000293"
    real = data.load_real_labels()
    # real.json is indexed by file number: file 293 of the val set
    assert real[0] == data._real_by_number()[292]
    with pytest.raises(data.DataError, match="resnet34"):
        data.load_imagenet_predictions("resnet35")
    with pytest.raises(data.DataError, match="ILSVRC2012_val"):
        data.load_real_labels(np.array(["cat_0001"]))
