"""CIFAR-10-C corruptions (parameters, determinism) and the cache of their predictions."""
import numpy as np
import pytest

from littlebig_utils.run import corruptions as C
from littlebig_utils.core.predictions import Predictions


def _images(n=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)


def test_noise_is_deterministic_in_seed_and_has_the_cifar10c_std():
    gray = np.full((200, 16, 16, 3), 128, np.uint8)  # no clipping at mid-gray
    for severity, c in enumerate(C.SEVERITY_PARAMS["gaussian_noise"], start=1):
        out = C.corrupt(gray, "gaussian_noise", severity, seed=1)
        np.testing.assert_array_equal(out, C.corrupt(gray, "gaussian_noise", severity, seed=1))
        # uint8 truncation: out = floor(128 + 255 * noise); its std is 255 c (+ rounding)
        assert np.std(out.astype(float)) / 255 == pytest.approx(c, rel=0.03)
    assert not np.array_equal(C.corrupt(gray, "gaussian_noise", 3, seed=1),
                              C.corrupt(gray, "gaussian_noise", 3, seed=2))


def _blur_reference(images, sigma):
    """Separable Gaussian with edge replication and a 4-sigma kernel, by explicit loops."""
    radius = int(4.0 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    x = images.astype(np.float64) / 255
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        xp = np.pad(x, pad, mode="edge")
        out = np.zeros_like(x)
        for j, w in enumerate(k):
            sl = [slice(None)] * 4
            sl[axis] = slice(j, j + x.shape[axis])
            out += w * xp[tuple(sl)]
        x = out
    return np.clip(x, 0, 1) * 255


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_blur_equals_separable_reference(severity):
    imgs = _images()
    ref = _blur_reference(imgs, C.SEVERITY_PARAMS["gaussian_blur"][severity - 1])
    out = C.corrupt(imgs, "gaussian_blur", severity)
    assert np.abs(out - ref).max() < 1.0  # truncation to uint8: within one grey level
    assert np.mean(out == ref.astype(np.uint8)) > 0.99
    assert not np.array_equal(out, imgs)


def test_blur_does_not_mix_channels():
    imgs = np.zeros((1, 8, 8, 3), np.uint8)
    imgs[..., 0] = 255
    out = C.corrupt(imgs, "gaussian_blur", 5)
    assert (out[..., 0] == 255).all() and (out[..., 1:] == 0).all()


@pytest.mark.parametrize("corruption, severity, match", [
    ("fog", 1, "unknown corruption"), ("gaussian_blur", 0, "1..5"),
    ("gaussian_blur", 6, "1..5"), ("gaussian_noise", 2.5, "1..5"),
])
def test_bad_corruption_or_severity_raises(corruption, severity, match):
    with pytest.raises(ValueError, match=match):
        C.corrupt(_images(), corruption, severity)


def test_bad_images_raise():
    with pytest.raises(ValueError, match="uint8"):
        C.corrupt(np.zeros((2, 8, 8, 3)), "gaussian_blur", 1)


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch):
    """Tiny 'test set' and a fake model run that counts calls and records its inputs."""
    from littlebig_utils.run import cifar
    monkeypatch.setenv("LITTLEBIG_CACHE_DIR", str(tmp_path / "cache"))
    imgs = _images(6)
    labels = np.arange(6) % 3
    ids = np.array([f"test_{i:05d}" for i in range(6)])
    monkeypatch.setattr(cifar, "load_lossless_split",
                        lambda split="test", limit=None: (imgs, labels, ids))
    # the JPEG copy is a shifted CIFAR-10: corruptions must never start from it
    monkeypatch.setattr(cifar, "load_jpeg_split", lambda split="test": (255 - imgs, labels, ids))
    calls = []

    def fake_predict(model_name, images, labels, ids, name, device, batch_size):
        calls.append((model_name, name, images.copy()))
        logits = images.reshape(len(images), -1)[:, :3].astype(np.float32)
        return Predictions(ids, labels, logits.argmax(1), np.full(len(ids), 0.5), logits,
                           {"name": model_name}, name)

    monkeypatch.setattr(C, "_predict", fake_predict)
    return imgs, calls


def test_predictions_are_cached_by_key(fake_cifar):
    imgs, calls = fake_cifar
    a = C.corrupted_predictions("m", "gaussian_noise", 2, seed=0, n=4)
    b = C.corrupted_predictions("m", "gaussian_noise", 2, seed=0, n=4)
    assert len(calls) == 1 and np.array_equal(a.logits, b.logits)
    np.testing.assert_array_equal(calls[0][2], C.corrupt(imgs[:4], "gaussian_noise", 2, 0))
    # any part of the key changes: computed anew
    C.corrupted_predictions("m", "gaussian_noise", 2, seed=1, n=4)
    C.corrupted_predictions("m", "gaussian_noise", 3, seed=0, n=4)
    C.corrupted_predictions("m", "gaussian_noise", 2, seed=0, n=5)
    C.corrupted_predictions("m", None, n=4)
    assert len(calls) == 5
    np.testing.assert_array_equal(calls[-1][2], imgs[:4])  # clean: the images as they are


def test_a_cached_file_with_another_key_is_recomputed(fake_cifar):
    _, calls = fake_cifar
    C.corrupted_predictions("m", "gaussian_blur", 1, n=3)
    path = C.cache_path("m", "gaussian_blur", 1, 0, 3)
    p = Predictions.load(path)
    p.model["corruption_key"]["version"] = -1  # e.g. written by older corruption code
    p.save(path)
    C.corrupted_predictions("m", "gaussian_blur", 1, n=3)
    assert len(calls) == 2
    path.write_bytes(b"not an npz")  # unreadable: recomputed, not trusted
    C.corrupted_predictions("m", "gaussian_blur", 1, n=3)
    assert len(calls) == 3


def test_bad_n_raises(fake_cifar):
    with pytest.raises(ValueError, match="between 1 and 6"):
        C.corrupted_predictions("m", "gaussian_blur", 1, n=7)


def test_corruptions_start_from_the_lossless_test_images(fake_cifar):
    imgs, calls = fake_cifar
    p = C.corrupted_predictions("m", None, n=6)
    np.testing.assert_array_equal(calls[-1][2], imgs)  # not the JPEG copy (255 - imgs here)
    assert p.model["corruption_key"]["source"] == "cifar10-test" == C.SOURCE
    assert calls[-1][1].startswith("cifar10-test+") and list(p.sample_ids[:2]) == ["test_00000", "test_00001"]
    C.corrupted_predictions("m", "gaussian_blur", 2, n=6)
    np.testing.assert_array_equal(calls[-1][2], C.corrupt(imgs, "gaussian_blur", 2))
