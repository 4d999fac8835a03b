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


# ------------------------------------------------------------------ issue 17: bad inputs

@pytest.mark.parametrize("field,values,match", [
    ("preds", [1.7, 2.2], "preds must be integer class indices, found non-integer values such as 1.7"),
    ("labels", [0.5, 1.0], "labels must be integer class indices, found non-integer values such as 0.5"),
    ("labels", [-1, 1], "labels must be class indices >= 0, found -1"),
    ("preds", [0, -1], "preds must be class indices >= 0, found -1"),
    ("labels", ["cat", "dog"], "labels must be integer class indices, got dtype <U3"),
    ("labels", [0.0, np.nan], "labels must be integer class indices, found 1 NaN"),
])
def test_labels_and_preds_are_never_truncated_or_negative(field, values, match):
    kw = dict(sample_ids=["a", "b"], labels=[0, 1], preds=[0, 1], conf=[0.5, 0.5],
              model={"name": "m"})
    kw[field] = values
    with pytest.raises(PredictionsError, match=f"^Predictions of 'm': {match}"):
        Predictions(**kw)
    ok = Predictions(["a", "b"], [0.0, 1.0], [1, 0], [0.5, 0.5])  # exact integers as floats
    assert ok.labels.dtype == np.int64 and ok.labels.tolist() == [0, 1]


def test_save_accepts_numpy_scalars_in_the_metadata(tmp_path):
    p = make()
    p.model.update(gmacs=np.float32(1.5), params_m=np.int64(3), img_size=np.array([224, 224]))
    q = Predictions.load(p.save(tmp_path / "p.npz"))
    assert q.model["gmacs"] == 1.5 and q.model["params_m"] == 3 and q.model["img_size"] == [224, 224]
    p.model["bad"] = object()
    with pytest.raises(PredictionsError, match="^cannot save Predictions of 'm': its metadata"):
        p.save(tmp_path / "q.npz")
    assert not (tmp_path / "q.npz").exists()


def test_a_non_dict_model_is_refused_when_made_and_when_loaded(tmp_path):
    with pytest.raises(PredictionsError, match="model must be a dict"):
        Predictions(["a"], [0], [0], [0.5], model="resnet")
    p = make()
    path = tmp_path / "p.npz"
    np.savez(path, sample_ids=p.sample_ids, labels=p.labels, preds=p.preds, conf=p.conf,
             meta=np.array('{"model": "resnet", "dataset": "x"}'))
    with pytest.raises(PredictionsError, match="metadata's 'model' is a str, not an object"):
        Predictions.load(path)


def test_sample_ids_as_bytes_are_decoded_or_refused_by_name():
    p = Predictions(np.array([b"a", b"\xc3\xa9"]), [0, 1], [0, 1], [0.5, 0.5])
    assert p.sample_ids.tolist() == ["a", "é"]
    with pytest.raises(PredictionsError, match="sample id bytes are not UTF-8"):
        Predictions(np.array([b"a", b"\xff\xfe"], dtype=object), [0, 1], [0, 1], [0.5, 0.5],
                    model={"name": "m"})


def _npy_bytes(shape, dtype, payload: bytes) -> bytes:
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue() + payload


def _write_archive(path, p, conf_npy: bytes):
    """An npz of `p`'s arrays, with `conf.npy` replaced by the given raw member."""
    import io
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in ("sample_ids", "labels", "preds"):
            buf = io.BytesIO()
            np.save(buf, getattr(p, key))
            zf.writestr(f"{key}.npy", buf.getvalue())
        zf.writestr("meta.npy", _npy_bytes((), "<U2", "{}".encode("utf-32-le")))
        zf.writestr("conf.npy", conf_npy)


def test_a_decompression_bomb_is_refused_before_it_is_read(tmp_path):
    """A tiny file whose conf decompresses to far more than its header says (or than
    sample_ids has rows) is refused from the zip directory and the npy headers alone."""
    p = make(n=10, logits=False)
    path = tmp_path / "bomb.npz"
    big = 4_000_000  # 32 MB of zeros compress to ~30 KB
    _write_archive(path, p, _npy_bytes((10,), "<f8", bytes(8 * big)))  # the header lies
    assert path.stat().st_size < 200_000
    with pytest.raises(PredictionsError, match=r"array 'conf' declares 32,000,\d+ bytes but its "
                                               r"header says \d+ \(shape \(10,\)\)"):
        Predictions.load(path)
    # an honest header with too many rows is refused for its row count
    _write_archive(path, p, _npy_bytes((big,), "<f8", bytes(8 * big)))
    with pytest.raises(PredictionsError, match="'conf' has 4000000 rows but sample_ids has 10"):
        Predictions.load(path)


def test_a_metadata_member_longer_than_its_header_is_refused(tmp_path):
    import io
    import zipfile
    p = make(n=4, logits=False)
    path = tmp_path / "meta.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in ("sample_ids", "labels", "preds", "conf"):
            buf = io.BytesIO()
            np.save(buf, getattr(p, key))
            zf.writestr(f"{key}.npy", buf.getvalue())
        zf.writestr("meta.npy", _npy_bytes((), "<U2", "{}".encode("utf-32-le") + bytes(4000)))
    with pytest.raises(PredictionsError, match=r"array 'meta' declares 4,\d+ bytes but its header"):
        Predictions.load(path)


def test_two_dimensional_byte_ids_are_not_flattened():
    with pytest.raises(PredictionsError, match=r"labels has shape \(2,\), expected \(1,\)"):
        Predictions(np.array([[b"a", b"b"]]), [0, 0], [0, 0], [0.5, 0.5])


def test_refusals_name_conf_and_show_three_unmatched_ids():
    with pytest.raises(PredictionsError, match=r"conf has shape \(3,\), expected \(2,\) like sample_ids"):
        Predictions(["a", "b"], [0, 0], [0, 0], [0.5, 0.5, 0.5])
    a = Predictions(["a", "b", "c", "d"], [0] * 4, [0] * 4, [0.5] * 4)
    b = Predictions(["w", "x", "y", "z"], [0] * 4, [0] * 4, [0.5] * 4)
    with pytest.raises(PredictionsError, match="4 ids only in the first") as exc:
        align(a, b)
    shown = str(exc.value).split("(e.g. ")[1]
    assert "'c'" in shown and "'d'" not in shown  # the first three of the unmatched ids


def test_corrupt_file_message_says_how_to_recreate_it(tmp_path):
    p = make(n=10, logits=False)
    path = tmp_path / "bomb.npz"
    _write_archive(path, p, _npy_bytes((10,), "<f8", bytes(8 * 20)))
    with pytest.raises(PredictionsError, match=r"the file is corrupt or crafted; re-create it "
                                               r"with littlebig predict$"):
        Predictions.load(path)
