"""The prediction stage: real numbers from tiny models and datasets the tests build, and the
real CIFAR-10 ResNets on the JPEG test copy."""
from __future__ import annotations

import io
import os
import pickle
import re
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from littlebig_utils import cli
from littlebig_utils.data import registry as data
from littlebig_utils.run.datasets import (ImageArrayDataset, imagenet_synset_map, load_cifar10_python,
                                      open_dataset)
from littlebig_utils.run.predict import cached_predictions, predict
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core.scores import max_softmax

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from tiny_models import TinyNet, tiny_dataset, tiny_model  # noqa: E402

HAVE_DATA = data.data_dir() is not None and (data.data_dir() / "cifar_resnets").is_dir()
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="needs LITTLEBIG_DATA_DIR (../shared/data)")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), str(TESTS), env.get("PYTHONPATH", "")])
    return env


def _same(a: Predictions, b: Predictions):
    """Bit-identical records. Compare only runs cut into the same batches: float32 results
    depend on the batch shape (MKL's sgemm takes another kernel, another summation order, for
    at most 4 rows than for more: TinyNet's logits of one image differ in the last bit between
    a batch of 4 and one of 12), never on the load, thread count or run."""
    for f in ("sample_ids", "labels", "preds", "conf", "logits"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert a.model == b.model and a.dataset == b.dataset


# ------------------------------------------------------------------ what predict computes

def test_predict_equals_a_plain_forward_pass():
    model, ds = tiny_model(), tiny_dataset(23)
    p = predict(model, ds, batch_size=4, chunk_size=10, progress=False)
    x = torch.stack([ds[i][0] for i in range(len(ds))])  # per-image PIL path of timm's transform
    with torch.no_grad():
        ref = model(x).numpy()
    np.testing.assert_allclose(p.logits, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(p.preds, ref.argmax(1))
    e = np.exp(ref - ref.max(1, keepdims=True))
    np.testing.assert_allclose(p.conf, (e / e.sum(1, keepdims=True)).max(1), rtol=1e-5)
    np.testing.assert_array_equal(p.labels, ds.labels)
    np.testing.assert_array_equal(p.sample_ids, ds.sample_ids)
    assert p.dataset == "tiny" and p.logits.shape == (23, 5)


def test_metadata_counts_macs_at_the_actual_input_size():
    model = tiny_model()
    model.pretrained_cfg = dict(model.pretrained_cfg, input_size=(3, 24, 20))
    p = predict(model, tiny_dataset(3, size=30), progress=False, name="tiny24")
    assert p.model["gmacs"] == pytest.approx(TinyNet.macs(24, 20) / 1e9)
    assert p.model["params_m"] == pytest.approx((3 * 4 * 9 + 4 * 5 + 5) / 1e6)
    assert p.model["input_size"] == [3, 24, 20] and p.model["name"] == "tiny24"


def test_batched_normalize_equals_timm_transform_per_image():
    ds = tiny_dataset(9)
    assert ds._fast is not None
    fast = ds.__getitems__(list(range(9)))
    for i, (x, y) in enumerate(fast):
        ref, yr = ds[i]
        torch.testing.assert_close(x, ref, rtol=0, atol=1e-6)
        assert y == yr


# ------------------------------------------------------------------ resumable

KILLED_RUN = textwrap.dedent("""
    import sys
    from tiny_models import tiny_dataset, tiny_model
    from littlebig_utils.run.predict import predict
    predict(tiny_model(sleep=0.3), tiny_dataset(40), out=sys.argv[1], batch_size=4,
            chunk_size=8, progress=False)
""")


def test_killed_run_resumes_from_its_last_chunk_and_ends_identical(tmp_path):
    out = tmp_path / "killed.npz"
    work = tmp_path / ".killed.npz.work"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(out)], env=_env())
    try:
        deadline = time.time() + 120
        while len(list(work.glob("chunk_*.npz"))) < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline, "no chunk written in 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert not out.exists()
    finished = sorted(work.glob("chunk_*.npz"))
    assert 2 <= len(finished) < 5
    model = tiny_model()
    resumed = predict(model, tiny_dataset(40), out=out, batch_size=4, chunk_size=8, progress=False)
    # only the unfinished chunks were run (plus FlopCounterMode's one-image pass for GMACs)
    assert sum(model.seen) == 1 + 40 - 8 * len(finished)
    assert out.is_file() and not work.exists()
    whole = predict(tiny_model(), tiny_dataset(40), out=tmp_path / "whole.npz", batch_size=4,
                    chunk_size=8, progress=False)
    _same(Predictions.load(out), whole)
    _same(resumed, whole)


def test_work_folder_of_another_run_is_refused(tmp_path):
    out = tmp_path / "p.npz"
    work = tmp_path / "w"
    predict(tiny_model(seed=0), tiny_dataset(12), out=out, work_dir=work, chunk_size=4,
            keep_work=True, progress=False)
    with pytest.raises(ValueError, match="different run.*weights"):
        predict(tiny_model(seed=1), tiny_dataset(12), out=out, work_dir=work, chunk_size=4,
                progress=False)


# ------------------------------------------------------------------ out of memory

@pytest.mark.parametrize("message", [None, "CUDA error: out of memory"])
def test_batch_is_halved_on_out_of_memory(message):
    ds = tiny_dataset(30)
    ref = predict(tiny_model(), ds, batch_size=30, progress=False)
    model = tiny_model(oom_above=7, oom_message=message)
    with pytest.warns(RuntimeWarning) as caught:
        got = predict(model, ds, batch_size=30, progress=False)
    assert [str(w.message) for w in caught] == [
        "out of memory at batch size 30; retrying with 15",
        "out of memory at batch size 15; retrying with 7"]
    assert max(model.seen) == 7 and sum(model.seen) == 1 + 30  # 1: the GMACs count
    np.testing.assert_allclose(got.logits, ref.logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got.preds, ref.preds)


def test_other_errors_and_oom_at_batch_one_are_raised(monkeypatch):
    import littlebig_utils.run.predict as pr
    monkeypatch.setattr(pr, "count_gmacs", lambda *a, **k: 0.0)  # these models fail at any size
    with pytest.raises(torch.cuda.OutOfMemoryError):
        with pytest.warns(RuntimeWarning):
            predict(tiny_model(oom_above=0), tiny_dataset(4), batch_size=4, progress=False)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        predict(tiny_model(oom_above=0, oom_message="shape mismatch"), tiny_dataset(4),
                progress=False)


# ------------------------------------------------------------------ torchrun

def test_torchrun_two_processes_gather_to_one_file(tmp_path):
    """`torchrun -m littlebig_utils.cli predict` with 2 CPU processes (gloo) = one process."""
    for k in range(13):  # 13 images, chunks of 5: the last chunk is padded by DistributedSampler
        _jpeg(tmp_path / "v2" / str(k % 3) / f"f{k:02d}.jpeg", k)
    args = ["predict", "--model", "cifar_resnet8", "--no-pretrained", "--dataset", "imagenet-v2",
            "--data-root", str(tmp_path / "v2"), "--batch-size", "2", "--chunk-size", "5",
            "--workers", "0", "--device", "cpu"]
    env = _env()
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc-per-node", "2", "-m", "littlebig_utils.cli", *args,
                          "--out", str(tmp_path / "ddp.npz")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert cli.main([*args, "--out", str(tmp_path / "one.npz")]) == 0
    got, single = Predictions.load(tmp_path / "ddp.npz"), Predictions.load(tmp_path / "one.npz")
    np.testing.assert_array_equal(got.sample_ids, single.sample_ids)
    np.testing.assert_array_equal(got.labels, single.labels)
    np.testing.assert_allclose(got.logits, single.logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got.preds, single.preds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp.npz", "one.npz", "v2"]


# ------------------------------------------------------------------ CIFAR-10 official batches

def _write_batches(path: Path, images: np.ndarray, labels, payload=None):
    batch = payload or {b"batch_label": b"testing batch 1 of 1", b"labels": list(map(int, labels)),
                        b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
                        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}
    raw = pickle.dumps(batch, protocol=2)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))


def test_cifar10_python_batch_reader(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    labels = [3, 1, 4, 1, 5, 9]
    _write_batches(tmp_path / "c.tar.gz", images, labels)
    got, lab, ids = load_cifar10_python("test", archive=tmp_path / "c.tar.gz")
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(lab, labels)
    assert list(ids) == [f"test_{i:05d}" for i in range(6)]
    ds = open_dataset("cifar10-test", data_root=tmp_path / "c.tar.gz", limit=4)
    assert len(ds) == 4 and ds.name == "cifar10-test"


def test_cifar10_python_reader_refuses_code_in_the_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    _write_batches(tmp_path / "e.tar.gz", None, None, payload={b"data": Evil()})
    with pytest.raises(pickle.UnpicklingError, match="not genuine"):
        load_cifar10_python("test", archive=tmp_path / "e.tar.gz")


# ------------------------------------------------------------------ ImageNet folders

def _jpeg(path: Path, seed: int, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


class ShapeNet(TinyNet):
    def forward(self, x):
        self.shapes = getattr(self, "shapes", set()) | {tuple(x.shape[1:])}
        return super().forward(x)


@needs_data
def test_imagenet_val_folder_labels_ids_and_model_transform(tmp_path):
    synsets = imagenet_synset_map()
    names = sorted(synsets)
    picks = {names[3]: [1, 7], names[700]: [2]}
    for syn, nums in picks.items():
        for num in nums:
            _jpeg(tmp_path / syn / f"ILSVRC2012_val_{num:08d}.JPEG", num)
    model = ShapeNet().eval()
    p = predict(model, "imagenet-val", data_root=tmp_path, progress=False, num_workers=0)
    assert model.shapes == {(3, 16, 16)}  # timm's data config of the model, not the file size
    assert sorted(p.sample_ids) == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002",
                                    "ILSVRC2012_val_00000007"]
    by_id = dict(zip(p.sample_ids, p.labels))
    assert by_id["ILSVRC2012_val_00000001"] == 3 and by_id["ILSVRC2012_val_00000002"] == 700
    real = data.load_real_labels(p.sample_ids)  # ReaL joins by file name
    assert len(real) == 3


@needs_data
def test_imagenet_val_flat_folder_takes_labels_from_the_registry(tmp_path):
    ids = data.imagenet_sample_ids()[[5, 40_000]]
    for i, sid in enumerate(ids):
        _jpeg(tmp_path / f"{sid}.JPEG", i)
    ds = open_dataset("imagenet-val", data_root=tmp_path)
    truth = dict(zip(data.imagenet_sample_ids(), data.imagenet_labels()))
    assert [truth[s] for s in ds.sample_ids] == list(ds.labels)


def test_imagenet_v2_class_folders_are_class_indices(tmp_path):
    for cls in ("0", "2", "10"):
        _jpeg(tmp_path / cls / "same_name.jpeg", int(cls))
    ds = open_dataset("imagenet-v2", data_root=tmp_path)
    assert dict(zip(ds.sample_ids, ds.labels)) == {"0/same_name": 0, "2/same_name": 2,
                                                   "10/same_name": 10}


# ------------------------------------------------------------------ CLI

def test_cli_predict_on_an_image_folder(tmp_path, capsys):
    for cls in ("1", "4"):
        for k in range(3):
            _jpeg(tmp_path / "v2" / cls / f"f{k}.jpeg", 10 * int(cls) + k)
    out = tmp_path / "p.npz"
    rc = cli.main(["predict", "--model", "cifar_resnet8", "--no-pretrained", "--dataset",
                   "imagenet-v2", "--data-root", str(tmp_path / "v2"), "--out", str(out),
                   "--batch-size", "4"])
    assert rc == 0, capsys.readouterr().err
    p = Predictions.load(out)
    assert len(p) == 6 and p.logits.shape == (6, 10) and set(p.labels) == {1, 4}
    from littlebig_utils.run.costs import arch_gmacs
    assert p.model["gmacs"] == pytest.approx(arch_gmacs("cifar_resnet8", 32)[0])
    assert p.model["pretrained"] is False and p.dataset == "imagenet-v2"


@pytest.mark.parametrize("args, message", [
    (["--model", "resnet5O", "--dataset", "cifar10-test-jpeg"], "close timm names: .*resnet50"),
    (["--model", "cifar_resnet8", "--dataset", "cifar10-tset"], "did you mean cifar10-test"),
    (["--model", "cifar_resnet8", "--dataset", "imagenet-val", "--data-root", "/nonexistent"],
     "does not exist"),
    (["--model", "cifar_resnet8", "--dataset", "imagenet-v2"], "LITTLEBIG_IMAGENET_V2"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.delenv("LITTLEBIG_IMAGENET_V2", raising=False)
    out = tmp_path / "p.npz"
    assert cli.main(["predict", *args, "--out", str(out)]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cli_cuda_without_a_gpu_exits_2(tmp_path, capsys):
    out = tmp_path / "p.npz"
    assert cli.main(["predict", "--model", "cifar_resnet8", "--no-pretrained", "--dataset",
                     "cifar10-test-jpeg", "--device", "cuda", "--out", str(out)]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(data.DataError, match="did you mean.*imagenet-v2.*Known: cifar10-test, cifar10-train, cifar10-test-jpeg"):
        open_dataset("imagenet-v3")


def test_cli_wrong_suffix_exits_2(tmp_path, capsys):
    out = tmp_path / "p.csv"
    assert cli.main(["predict", "--model", "cifar_resnet8", "--dataset", "cifar10-test-jpeg",
                     "--out", str(out)]) == 2
    assert ".npz" in capsys.readouterr().err and not out.exists()


# ------------------------------------------------------------------ cache

@needs_data
def test_cached_predictions_compute_once(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    first = cached_predictions("cifar_resnet8", "cifar10-test-jpeg", limit=50, pretrained=False)
    made = list((tmp_path / "predictions").glob("cifar10-test-jpeg__cifar_resnet8__random__n50__*.npz"))
    assert len(made) == 1
    import littlebig_utils.run.predict as pr
    monkeypatch.setattr(pr, "predict", lambda *a, **k: pytest.fail("recomputed"))
    _same(cached_predictions("cifar_resnet8", "cifar10-test-jpeg", limit=50, pretrained=False),
          first)
    assert list(first.sample_ids[:2]) == ["test_00000", "test_00001"]
    np.testing.assert_allclose(first.conf, max_softmax(first.logits), rtol=1e-6)


# ------------------------------------------------------------------ the real CIFAR ResNets

# independent evaluation of the same checkpoints on this JPEG copy (issue 4, MANIFEST.md)
JPEG_TOP1 = {20: 81.03, 32: 82.56, 44: 82.67, 56: 83.20}


@needs_data
@pytest.mark.parametrize("depth", [20, pytest.param(32, marks=pytest.mark.slow),
                                   pytest.param(44, marks=pytest.mark.slow),
                                   pytest.param(56, marks=pytest.mark.slow)])
def test_cifar_resnets_on_the_jpeg_copy_match_the_independent_evaluation(depth):
    p = predict(f"cifar_resnet{depth}", "cifar10-test-jpeg", batch_size=500, progress=False)
    assert len(p) == 10_000 and p.model["pretrained"] is True
    assert 100 * p.accuracy == pytest.approx(JPEG_TOP1[depth], abs=0.3)


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_cifar_resnets_on_the_lossless_test_set_score_exactly_their_published_accuracy(depth):
    from littlebig_utils.run import cifar
    p = predict(f"cifar_resnet{depth}", "cifar10-test", batch_size=500, progress=False)
    assert len(p) == 10_000 and p.dataset == "cifar10-test" and p.model["pretrained"] is True
    print(f"cifar_resnet{depth} on cifar10-test: {int(p.correct.sum())} / 10000 correct")
    # exactly the published 91.73 / 92.63 / 93.10 / 93.39 %: a count, not a tolerance
    published_correct = {20: 9173, 32: 9263, 44: 9310, 56: 9339}[depth]
    assert int(p.correct.sum()) == published_correct
    assert cifar.PUBLISHED_TOP1[depth] == published_correct / 10_000


def test_cached_predictions_default_to_pretrained_weights(tmp_path, monkeypatch):
    import littlebig_utils.run.predict as pr
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    seen = {}
    monkeypatch.setattr(pr, "predict", lambda *a, **k: seen.update(k))
    cached_predictions("cifar_resnet20", "cifar10-test-jpeg")
    assert seen["pretrained"] is True
    assert re.fullmatch(r"cifar10-test-jpeg__cifar_resnet20__[0-9a-f]{12}\.npz", seen["out"].name)


@needs_data
def test_cifar10_references_and_human_labels():
    from littlebig_utils.run import cifar
    from littlebig_utils.run.datasets import cifar10h_labels, load_cifar10_reference
    r110 = load_cifar10_reference("resnet110")
    assert 0.92 < r110.accuracy < 0.95  # Guo et al.'s ResNet-110, lossless images
    # 110 layers of the option-A ResNet cost (110 - 2) / (56 - 2) times the 56's blocks
    assert r110.model["gmacs"] > 1.9 * predict_gmacs_56()
    assert "gmacs" not in load_cifar10_reference("densenet40").model
    majority, valid, probs = cifar10h_labels()
    assert valid.sum() > 9_990 and np.allclose(probs.sum(1), 1)
    assert (majority == cifar.test_labels()).mean() > 0.99


def predict_gmacs_56():
    from littlebig_utils.run.costs import arch_gmacs
    return arch_gmacs("cifar_resnet56", 32)[0]


def test_worker_processes_give_the_same_predictions():
    ds = tiny_dataset(21)
    one = predict(tiny_model(), ds, batch_size=4, chunk_size=10, progress=False)
    two = predict(tiny_model(), ds, batch_size=4, chunk_size=10, num_workers=2, progress=False)
    _same(one, two)


# ------------------------------------------------------------------ one run per output (issue 11)

def test_chunks_without_a_manifest_are_not_adopted_by_another_model(tmp_path):
    """A work folder left without its manifest (two racing runs) must not lend its chunks."""
    out, work = tmp_path / "p.npz", tmp_path / "w"
    predict(tiny_model(seed=1), tiny_dataset(12), out=out, work_dir=work, chunk_size=4,
            keep_work=True, progress=False)
    (work / "manifest.json").unlink()
    (work / "chunk_00002.npz").unlink()
    with pytest.warns(RuntimeWarning, match="no manifest"):
        got = predict(tiny_model(seed=0), tiny_dataset(12), out=out, work_dir=work, chunk_size=4,
                      progress=False)
    _same(got, predict(tiny_model(seed=0), tiny_dataset(12), chunk_size=4, progress=False))


def test_a_chunk_of_another_run_is_recomputed(tmp_path):
    predict(tiny_model(seed=1), tiny_dataset(12), out=tmp_path / "a.npz", work_dir=tmp_path / "wa",
            chunk_size=4, keep_work=True, progress=False)
    predict(tiny_model(seed=0), tiny_dataset(12), out=tmp_path / "b.npz", work_dir=tmp_path / "wb",
            chunk_size=4, keep_work=True, progress=False)
    import shutil
    shutil.copy(tmp_path / "wa" / "chunk_00001.npz", tmp_path / "wb" / "chunk_00001.npz")
    model = tiny_model(seed=0)
    with pytest.warns(RuntimeWarning, match="not a chunk of this run"):
        got = predict(model, tiny_dataset(12), out=tmp_path / "b.npz", work_dir=tmp_path / "wb",
                      chunk_size=4, progress=False)
    assert sum(model.seen) == 1 + 4  # the GMACs pass and the one foreign chunk
    _same(got, Predictions.load(tmp_path / "b.npz"))
    _same(got, predict(tiny_model(seed=0), tiny_dataset(12), chunk_size=4, progress=False))


def test_a_second_run_to_the_same_out_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "p.npz"
    work = tmp_path / ".p.npz.work"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(out)], env=_env())
    try:
        deadline = time.time() + 120
        while not list(work.glob("chunk_*.npz")):
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.05)
        from littlebig_utils.run.predict import WorkLockedError
        with pytest.raises(WorkLockedError, match=r"another littlebig predict is writing .*p\.npz "
                           r"\(lock file .*\); wait for it or choose another --out"):
            predict(tiny_model(seed=1), tiny_dataset(40), out=out, chunk_size=8, progress=False)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the lock dies with its holder: the next run resumes the same model's chunks
    predict(tiny_model(), tiny_dataset(40), out=out, batch_size=4, chunk_size=8, progress=False)
    _same(Predictions.load(out), predict(tiny_model(), tiny_dataset(40), batch_size=4,
                                         chunk_size=8, progress=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npz"]  # no lock or work left


# ------------------------------------------------------------------ bad input, one line

@pytest.mark.parametrize("device", ["gpu0", "cuda:x", "cpu:0:1", ""])
def test_bad_device_string_names_the_valid_forms(device):
    with pytest.raises(ValueError, match=r"is not a device; use cpu, cuda, cuda:N .* or mps"):
        predict(tiny_model(), tiny_dataset(3), device=device, progress=False)


def test_cli_bad_device_exits_2_with_one_line(tmp_path, capsys):
    assert cli.main(["predict", "--model", "cifar_resnet8", "--no-pretrained", "--dataset",
                     "cifar10-test-jpeg", "--device", "gpu0", "--out", str(tmp_path / "p.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use cpu, cuda, cuda:N" in err
    assert list(tmp_path.iterdir()) == []


def test_output_folder_that_cannot_be_written_fails_before_the_model_runs(tmp_path):
    (tmp_path / "afile").write_text("x")
    model = tiny_model()
    with pytest.raises(ValueError, match="cannot write to .*afile.*choose another --out"):
        predict(model, tiny_dataset(3), out=tmp_path / "afile" / "p.npz", progress=False)
    assert model.seen == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="cannot write to"):
            predict(tiny_model(), tiny_dataset(3), out=ro / "p.npz", progress=False)
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("workers", [0, 1])
def test_corrupt_image_in_a_folder_is_named(tmp_path, workers):
    from littlebig_utils.run.datasets import ImageFolderDataset
    rng = np.random.default_rng(0)
    for cls in ("0", "1"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{cls}_{i}.jpg")
    bad = tmp_path / "1" / "1_0.jpg"
    bad.write_bytes(bad.read_bytes()[:40])
    ds = ImageFolderDataset(tmp_path, class_map={"0": 0, "1": 1}, name="folder")
    with pytest.raises(data.DataError, match=r"image .*1_0\.jpg cannot be read") as e:
        predict(tiny_model(), ds, num_workers=workers, progress=False)
    assert "\n" not in str(e.value) and "Traceback" not in str(e.value)


def test_offline_missing_pretrained_weights_fail_at_once(tmp_path, monkeypatch):
    import huggingface_hub.constants as hfc

    from littlebig_utils.run.predict import WeightsNotCachedError, create_model
    monkeypatch.setenv("LITTLEBIG_OFFLINE", "1")
    monkeypatch.setattr(hfc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    before = hfc.HF_HUB_OFFLINE
    with pytest.raises(WeightsNotCachedError, match="'resnet18' are not cached.*--no-pretrained"):
        create_model("resnet18", pretrained=True)
    assert hfc.HF_HUB_OFFLINE == before  # the hub's switch is restored


# ------------------------------------------------------------------ cache keys

def test_cached_path_changes_with_code_format_weights_and_limit(monkeypatch):
    import littlebig_utils.run.predict as pr
    from littlebig_utils.run.predict import cached_path
    base = cached_path("cifar_resnet8", "cifar10-test-jpeg", 50, pretrained=False)
    assert cached_path("cifar_resnet8", "cifar10-test-jpeg", 50, pretrained=False) == base
    others = {cached_path("cifar_resnet8", "cifar10-test-jpeg", 50, pretrained=False, seed=1),
              cached_path("cifar_resnet8", "cifar10-test-jpeg", 60, pretrained=False),
              cached_path("cifar_resnet20", "cifar10-test-jpeg", 50, pretrained=True),
              cached_path("cifar_resnet20", "cifar10-test-jpeg", 50, pretrained=False)}
    monkeypatch.setattr(pr, "PREDICT_FORMAT", pr.PREDICT_FORMAT + 1)
    others.add(cached_path("cifar_resnet8", "cifar10-test-jpeg", 50, pretrained=False))
    assert base not in others and len(others) == 5


def test_predict_accepts_in_memory_arrays_and_a_module_with_a_name():
    ds = tiny_dataset(9)
    ref = predict(tiny_model(), ds, progress=False, name="tiny")
    got = predict(tiny_model(), (ds.images, ds.labels, ds.sample_ids), name="tiny",
                  dataset_name="tiny", progress=False)
    _same(got, ref)
    plain = predict(tiny_model(), (ds.images, ds.labels), progress=False)
    np.testing.assert_array_equal(plain.logits, ref.logits)
    assert plain.dataset == "arrays" and len(plain) == 9
    from littlebig_utils.run.predict import predict_images
    _same(predict_images(tiny_model(), ds.images, ds.labels, ds.sample_ids, name="tiny",
                         dataset_name="tiny"), ref)


def test_cached_predictions_waits_for_another_process_computing_the_same_entry(monkeypatch, tmp_path):
    """Two notebooks asking for the same cache entry at once: the second waits for the first's
    file instead of failing on its lock (or computing it twice)."""
    import littlebig_utils.run.predict as P
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    path = P.cached_path("cifar_resnet8", "cifar10-test-jpeg", 6, False, 0)
    made = Predictions([f"{i:05d}" for i in range(6)], np.zeros(6), np.zeros(6), np.full(6, 0.5),
                       model={"name": "cifar_resnet8"}, dataset="cifar10-test-jpeg")
    calls = []

    def locked(*args, **kwargs):  # the other process finishes while we are refused
        calls.append(kwargs["out"])
        made.save(kwargs["out"])
        raise P.WorkLockedError(f"another littlebig predict is writing {kwargs['out']}")

    monkeypatch.setattr(P, "predict", locked)
    monkeypatch.setattr("time.sleep", lambda s: None)
    got = P.cached_predictions("cifar_resnet8", "cifar10-test-jpeg", limit=6, pretrained=False)
    assert calls == [path] and got.name == "cifar_resnet8" and len(got) == 6


# ------------------------------------------------------------------ the run layer's names

def test_the_run_layer_exports_its_names_lazily_and_predict_stays_a_module():
    import inspect

    from littlebig_utils import run
    from littlebig_utils.run import costs, devices
    from littlebig_utils.run import predict as predict_module
    assert run.create_model is predict_module.create_model
    assert run.count_gmacs is costs.count_gmacs
    assert run.default_device is devices.default_device  # the one default device
    assert "predict" not in run.__all__ and inspect.ismodule(run.predict)
    assert not hasattr(predict_module, "default_device")
    out = subprocess.run([sys.executable, "-c", "import sys, littlebig_utils.run as r; "
                          "print(sorted(m for m in ('torch', 'timm') if m in sys.modules), "
                          "sorted(r.__all__))"], capture_output=True, text=True, env=_env())
    assert out.stdout.strip() == ("[] ['IMAGE_DATASETS', 'count_gmacs', 'create_model', "
                                  "'default_device']"), out.stderr
