import numpy as np
import pytest

from littlebig_utils.core.predictions import Predictions, PredictionsError, align, atomic_write


def make(n=6, name="m", seed=0, logits=True):
    rng = np.random.default_rng(seed)
    lg = rng.normal(size=(n, 4)).astype(np.float32)
    p = np.exp(lg) / np.exp(lg).sum(1, keepdims=True)
    return Predictions([f"id{i}" for i in range(n)], rng.integers(0, 4, n), p.argmax(1), p.max(1),
                       lg if logits else None, {"name": name, "gmacs": 1.5}, "toy")


def test_save_load_roundtrip_without_pickle(tmp_path):
    p = make()
    path = p.save(tmp_path / "p.npz")
    with np.load(path, allow_pickle=False) as z:  # loadable with pickle disabled
        assert set(z.files) >= {"sample_ids", "labels", "preds", "conf", "logits", "meta"}
    q = Predictions.load(path)
    assert np.array_equal(q.sample_ids, p.sample_ids) and np.array_equal(q.preds, p.preds)
    np.testing.assert_array_equal(q.logits, p.logits)
    assert q.model == p.model and q.dataset == "toy"


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_align_reorders_and_refuses_mismatch():
    a = make(seed=1)
    b = a.subset(np.array([5, 4, 3, 2, 1, 0]))
    a2, b2 = align(a, b)
    assert np.array_equal(b2.sample_ids, a.sample_ids) and np.array_equal(b2.preds, a.preds)
    with pytest.raises(PredictionsError, match="cannot align"):
        align(a, a.subset(np.arange(5)))
    c = make(seed=1)
    c.labels = (c.labels + 1) % 4
    with pytest.raises(PredictionsError, match="disagree on the labels"):
        align(a, c)


@pytest.mark.parametrize("conf,match", [([0.5, np.nan], "NaN"), ([0.5, 1.2], r"\[0, 1\]"),
                                        ([0.5, -3.0], r"\[0, 1\]")])
def test_bad_confidences_are_refused(conf, match):
    with pytest.raises(PredictionsError, match=match):
        Predictions(["a", "b"], [0, 1], [0, 1], conf)


def test_shape_and_duplicate_ids_are_refused():
    with pytest.raises(PredictionsError, match="shape"):
        Predictions(["a", "b"], [0, 1], [0], [0.5, 0.5])
    with pytest.raises(PredictionsError, match="unique"):
        Predictions(["a", "a"], [0, 1], [0, 1], [0.5, 0.5])


def test_load_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="littlebig predict"):
        Predictions.load(tmp_path / "nope.npz")


def test_load_missing_file_hint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        Predictions.load(tmp_path / "nope.npz")
    assert "{path}" not in str(e.value) and f"--out {tmp_path / 'nope.npz'}" in str(e.value)


def _bad_files(tmp_path):
    good = make().save(tmp_path / "good.npz")
    raw = good.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "text.npz").write_text("sample_id,label\na,1\n")
    with open(tmp_path / "array.npz", "wb") as f:
        np.save(f, np.zeros(3))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    return {"truncated": "not a readable Predictions file \\(truncated or corrupt\\)",
            "text": "not a Predictions file \\(not an npz archive",
            "array": "single numpy array", "other": "not a Predictions file \\(no sample_ids"}


def test_unreadable_files_give_one_line_naming_the_file(tmp_path):
    for stem, message in _bad_files(tmp_path).items():
        path = tmp_path / f"{stem}.npz"
        with pytest.raises(PredictionsError, match=message) as e:
            Predictions.load(path)
        text = str(e.value)
        assert str(path) in text and "\n" not in text and "littlebig predict" in text
        assert "allow_pickle" not in text  # numpy's unsafe advice never reaches the user


def test_save_where_nothing_can_be_written_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(PredictionsError, match=r"cannot write Predictions to .*afile.*choose another"):
        make().save(tmp_path / "afile" / "p.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


def test_subset_keeps_logits_rows_model_and_dataset():
    p = make(6)
    idx = np.array([4, 0, 2])
    q = p.subset(idx)
    assert q.sample_ids.tolist() == ["id4", "id0", "id2"]
    np.testing.assert_array_equal(q.logits, p.logits[idx])
    np.testing.assert_array_equal(q.conf, p.conf[idx])
    assert q.dataset == "toy" and q.model == p.model and q.model is not p.model
    assert make(6, logits=False).subset(idx).logits is None


def test_load_fills_missing_metadata_and_refuses_pickled_arrays(tmp_path):
    """A file written by another tool may carry no model or dataset in its metadata; a file
    holding a pickled (object) array is refused: loading never unpickles."""
    import json
    p = make(4, logits=False)
    plain = dict(sample_ids=p.sample_ids, labels=p.labels, preds=p.preds, conf=p.conf,
                 meta=np.array(json.dumps({})))
    np.savez(tmp_path / "bare.npz", **plain)
    q = Predictions.load(tmp_path / "bare.npz")
    assert q.model == {} and q.name == "" and q.dataset == "" and q.logits is None
    np.testing.assert_array_equal(q.conf, p.conf)
    pickled = dict(plain, labels=np.array([1, 2, 3, 0], dtype=object))
    np.savez(tmp_path / "pickled.npz", **pickled)
    with pytest.raises(ValueError):
        Predictions.load(tmp_path / "pickled.npz")


def test_refusals_name_the_model_and_the_array():
    ids, ok = ["a", "b"], np.array([0.5, 0.5])
    with pytest.raises(PredictionsError, match=r"^Predictions of 'm': labels has shape \(3,\), "
                       r"expected \(2,\) like sample_ids$"):
        Predictions(ids, [1, 2, 3], [1, 2], ok, model={"name": "m"})
    with pytest.raises(PredictionsError, match=r"^Predictions of '\?': preds has shape \(1,\), "
                       r"expected \(2,\) like sample_ids$"):
        Predictions(ids, [1, 2], [1], ok)  # no model name: '?'
