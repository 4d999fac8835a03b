"""The cascade executor: same answers as the Little-Big rule, in input order, in every mode."""
from __future__ import annotations

import functools
import weakref

import numpy as np
import pytest
import torch
import torch.nn as nn
from littlebig_utils.book.chapters import tabA4_throughput_latency as chapter
from littlebig_utils.run import runtime
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core import engine

MODES = runtime.MODES


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """On a shared CPU, OpenMP threads waiting for each other make small models crawl."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gap_threshold(conf: np.ndarray) -> float:
    """A threshold in the middle of the widest gap between confidences near the median.

    Lying far from every confidence, it routes the same way however the batch composition
    perturbs the last bits of the logits, so executor and reference must agree exactly.
    """
    c = np.sort(conf)
    lo, hi = len(c) // 4, 3 * len(c) // 4
    k = lo + int(np.argmax(np.diff(c[lo:hi + 1])))
    assert c[k + 1] - c[k] > 1e-5, "no usable gap between confidences"
    return float((c[k] + c[k + 1]) / 2)


def check_rule(run, little, big, threshold, ids):
    """Executor output equals the rule (engine.route) on the two models' own outputs."""
    n = len(ids)
    labels = np.zeros(n, dtype=np.int64)
    lp = Predictions(ids, labels, little.preds, little.conf, model=dict(name="little"))
    bp = Predictions(ids, labels, big.preds, big.conf, model=dict(name="big"))
    to_big = engine.route(lp.conf, threshold)
    expected = np.where(to_big, bp.preds, lp.preds)
    assert 0 < to_big.sum() < n, "the test needs both kept and escalated samples"
    np.testing.assert_array_equal(run.to_big, to_big)
    np.testing.assert_array_equal(run.preds, expected)
    np.testing.assert_allclose(run.little_conf, little.conf, atol=1e-5)
    np.testing.assert_allclose(run.conf, np.where(to_big, big.conf, little.conf), atol=1e-5)
    assert run.n_big == int(to_big.sum())
    assert (run.latency_s > 0).all() and run.wall_s >= run.latency_s.max()


# ------------------------------------------------------------------ real CIFAR ResNets

@pytest.fixture(scope="module")
def cifar_setup(tmp_path_factory):
    timm = pytest.importorskip("timm")
    from littlebig_utils.run import cifar
    from littlebig_utils.data.registry import DataError
    try:
        images, _, _ = cifar.load_jpeg_split("test")
    except DataError as e:  # the reference data is not on this machine: only that is skipped
        pytest.skip(f"CIFAR-10 JPEG test set unavailable: {e}")
    folder = tmp_path_factory.mktemp("cifar_weights")
    specs = [runtime.ModelSpec.from_module(
        arch, timm.create_model(arch, pretrained=True),
        functools.partial(timm.create_model, arch), folder)
        for arch in ("cifar_resnet20", "cifar_resnet56")]
    x = cifar.to_tensor(images[:240])
    alone = [runtime.run_model(s, x, device="cpu", batch_size=len(x)) for s in specs]
    return specs, x, alone


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_cifar_resnets_follow_the_rule(cifar_setup, mode):
    (little, big), x, (little_alone, big_alone) = cifar_setup
    # real pretrained models: far better than chance on their own
    threshold = gap_threshold(little_alone.conf)
    run = runtime.run_cascade(little, big, x, threshold, mode=mode, device="cpu",
                              batch_size=32, chunk_size=100)
    check_rule(run, little_alone, big_alone, threshold, np.arange(len(x)).astype(str))


# ------------------------------------------------------------------ random-weight timm models

@pytest.fixture(scope="module")
def timm_setup(tmp_path_factory):
    pytest.importorskip("timm")
    folder = tmp_path_factory.mktemp("timm_weights")
    little = runtime.ModelSpec.from_timm("resnet10t", folder, num_classes=20, seed=1)
    big = runtime.ModelSpec.from_timm("resnet18", folder, num_classes=20, seed=2)
    g = torch.Generator().manual_seed(0)
    x_little = torch.randn(70, 3, 48, 48, generator=g)
    # the big model sees the same samples at its own (larger) input size
    x_big = nn.functional.interpolate(x_little, size=64, mode="bilinear", align_corners=False)
    alone = (runtime.run_model(little, x_little, device="cpu", batch_size=70),
             runtime.run_model(big, x_big, device="cpu", batch_size=70))
    return (little, big), (x_little, x_big), alone


@pytest.mark.parametrize("mode", MODES)
def test_random_timm_models_follow_the_rule(timm_setup, mode):
    (little, big), (x_little, x_big), (little_alone, big_alone) = timm_setup
    threshold = gap_threshold(little_alone.conf)
    run = runtime.run_cascade(little, big, x_little, threshold, mode=mode, big_inputs=x_big,
                              device="cpu", batch_size=16, chunk_size=30)
    check_rule(run, little_alone, big_alone, threshold, np.arange(len(x_little)).astype(str))


# ------------------------------------------------------------------ order, flushing, memory

class Echo(nn.Module):
    """Answers class (sample id + shift) mod C with the max softmax the input asks for.

    Input row i is (id, wanted confidence); the little (shift 0) and big (shift 1) models
    therefore disagree on every sample, so a mis-ordered or mis-routed answer is visible.
    """

    def __init__(self, num_classes: int = 97, shift: int = 0):
        super().__init__()
        self.num_classes, self.shift = num_classes, shift
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        c = self.num_classes
        cls = (x[:, 0].long() + self.shift) % c
        conf = x[:, 1].clamp(1.0 / c + 1e-3, 1 - 1e-6)
        logit = torch.log(conf * (c - 1) / (1 - conf)) * self.scale
        out = torch.zeros(len(x), c, device=x.device)
        out[torch.arange(len(x)), cls] = logit
        return out


def echo_inputs(n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.tensor(np.stack([np.arange(n), rng.uniform(0.05, 0.99, n)], 1),
                        dtype=torch.float32)


@pytest.fixture
def echo_specs(tmp_path):
    little = runtime.ModelSpec.from_module("little", Echo(shift=0),
                                           functools.partial(Echo, shift=0), tmp_path)
    big = runtime.ModelSpec.from_module("big", Echo(shift=1), functools.partial(Echo, shift=1),
                                        tmp_path)
    return little, big


@pytest.mark.parametrize("mode", MODES)
def test_answers_come_back_in_input_order(echo_specs, mode):
    x = echo_inputs(90)
    threshold = 0.6
    run = runtime.run_cascade(*echo_specs, x, threshold, mode=mode, device="cpu",
                              batch_size=8, chunk_size=40)
    ids = np.arange(90)
    to_big = x[:, 1].numpy() < threshold
    np.testing.assert_array_equal(run.to_big, to_big)
    np.testing.assert_array_equal(run.preds, np.where(to_big, ids + 1, ids) % 97)
    np.testing.assert_allclose(run.little_conf, x[:, 1].numpy(), atol=1e-5)


def test_final_partial_batch_is_flushed(echo_specs):
    n, bs = 50, 8
    escalate = np.zeros(n, dtype=bool)
    escalate[np.random.default_rng(3).choice(n, 19, replace=False)] = True
    # replayed routing: the recorded mask decides, whatever the little model's confidence
    run = runtime.run_cascade(*echo_specs, echo_inputs(n), escalate=escalate, device="cpu",
                              batch_size=bs)
    assert run.big_batch_sizes == [8, 8, 3]
    np.testing.assert_array_equal(run.to_big, escalate)
    np.testing.assert_array_equal(run.preds, np.where(escalate, np.arange(n) + 1, np.arange(n)))
    # an escalated sample waits in the queue: its answer comes after its batch's kept ones
    last = np.flatnonzero(escalate)[-1]
    assert run.latency_s[last] >= run.latency_s[~escalate].min()


def tracked(registry: weakref.WeakSet, seen: list, shift: int) -> nn.Module:
    """An Echo that is registered while alive and notes, at each call, how many Echos live."""
    model = Echo(shift=shift)
    registry.add(model)

    def count_alive(module, args):
        # no gc.collect(): the executor must free a dropped model itself (refcount or GC)
        seen.append(sum(1 for m in registry if not m.scale.is_meta))

    model.register_forward_pre_hook(count_alive)
    return model


@pytest.mark.parametrize("mode,expected_alive", [("swapped", 1), ("resident", 2)])
def test_swapped_mode_holds_one_model_at_a_time(tmp_path, mode, expected_alive):
    registry, seen = weakref.WeakSet(), []
    specs = [runtime.ModelSpec.from_module(name, Echo(shift=s),
                                           functools.partial(tracked, registry, seen, s), tmp_path)
             for name, s in (("little", 0), ("big", 1))]
    x = echo_inputs(60)
    run = runtime.run_cascade(*specs, x, 0.6, mode=mode, device="cpu", batch_size=8,
                              chunk_size=20, warmup=False)
    assert 0 < run.n_big < len(x)
    assert max(seen) == expected_alive
    if mode == "swapped":
        # every chunk loads the little model, and the big one if anything was escalated
        chunks_escalating = sum(run.to_big[i:i + 20].any() for i in range(0, 60, 20))
        assert run.loads == 3 + chunks_escalating
        assert run.load_s > 0


def test_bad_arguments_are_refused(echo_specs):
    x = echo_inputs(10)
    with pytest.raises(ValueError, match="exactly one"):
        runtime.run_cascade(*echo_specs, x, 0.5, escalate=np.zeros(10, bool), device="cpu")
    with pytest.raises(ValueError, match="exactly one"):
        runtime.run_cascade(*echo_specs, x, device="cpu")
    with pytest.raises(ValueError, match="mode"):
        runtime.run_cascade(*echo_specs, x, 0.5, mode="lazy", device="cpu")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        runtime.run_cascade(*echo_specs, x, 1.5, device="cpu")
    with pytest.raises(TypeError, match="ModelSpec"):
        runtime.run_cascade(Echo(), Echo(1), x, 0.5, mode="swapped", device="cpu")
    with pytest.raises(ValueError, match="same samples"):
        runtime.run_cascade(*echo_specs, x, 0.5, big_inputs=x[:5], device="cpu")


@pytest.mark.parametrize("device", ["gpu0", "cuda:x", ""])
def test_a_bad_device_is_refused_in_one_line_as_predict_refuses_it(echo_specs, device):
    """The executor parses devices with the run layer's one parser (not torch's RuntimeError)."""
    with pytest.raises(ValueError, match=r"is not a device; use cpu, cuda, cuda:N"):
        runtime.run_model(Echo(), echo_inputs(4), device=device)
    with pytest.raises(ValueError, match=r"is not a device; use cpu, cuda, cuda:N"):
        runtime.run_cascade(*echo_specs, echo_inputs(4), 0.5, device=device)


def test_the_executor_defaults_to_the_run_layers_one_device(echo_specs):
    from littlebig_utils import run
    from littlebig_utils.run import devices
    assert run.default_device is devices.default_device
    assert not hasattr(runtime, "default_device")
    run_ = runtime.run_model(Echo(), echo_inputs(4))
    assert run_.device == str(run.default_device())


# ------------------------------------------------------------------ the timing protocol

def test_benchmark_summary_ratios(echo_specs):
    x = echo_inputs(40)
    raw = runtime.benchmark(*echo_specs, x, threshold=0.5, device="cpu", batch_size=8,
                            n_online=10, repeats=2)
    assert set(raw["run"]) == {"little", "big", "resident", "swapped", "little_online",
                               "big_online", "online"}
    summary = runtime.summarize(raw, little_gmacs=1.0, big_gmacs=10.0).set_index("mode")
    assert list(summary.index) == ["resident", "swapped", "online"]
    frac = float((x[:, 1] < 0.5).float().mean())
    assert summary.loc["resident", "frac_big"] == pytest.approx(frac)
    assert summary.loc["resident", "speedup_macs"] == pytest.approx(10 / (1 + 10 * frac))
    assert summary.loc["online", "n"] == 10
    # overhead = measured / (n t_little + n_big t_big) - 1 within each repeat, then the median
    overheads = []
    for _, g in raw.groupby("repeat"):
        g = g.set_index("run")
        t_little, t_big = g.loc["little", "wall_s"] / 40, g.loc["big", "wall_s"] / 40
        predicted = 40 * t_little + g.loc["resident", "n_big"] * t_big
        overheads.append(g.loc["resident", "wall_s"] / predicted - 1)
    assert summary.loc["resident", "overhead"] == pytest.approx(np.median(overheads))
    assert summary.loc["swapped", "load_s"] > 0 and summary.loc["resident", "load_s"] == 0


def test_summarize_against_hand_computed_ratios():
    """Distinct little / big throughputs, so that a ratio taken against the wrong model (or the
    wrong mode's baselines) gives another number. Per repeat: little 100 samples in 1 s, big
    100 in 4 s; the resident cascade sends 30 to big and takes 2.5 s; online (20 requests):
    little 0.4 s, big 1.0 s, cascade 8 to big in 0.9 s."""
    import pandas as pd
    base = dict(device="cpu", batch_size=10, mean_latency_ms=1.0, p95_latency_ms=2.0,
                load_s=0.0)
    rows = []
    for repeat, scale in ((0, 1.0), (1, 1.0), (2, 3.0)):  # a slow third repeat: medians ignore it
        for run, n, wall, cpu, n_big in (("little", 100, 1.0, 0.8, None),
                                         ("big", 100, 4.0, 3.2, None),
                                         ("resident", 100, 2.5, 2.0, 30),
                                         ("little_online", 20, 0.4, 0.4, None),
                                         ("big_online", 20, 1.0, 1.0, None),
                                         ("online", 20, 0.9, 0.9, 8)):
            wall *= scale if run == "resident" else 1.0
            row = dict(base, repeat=repeat, run=run, n=n, wall_s=wall, cpu_s=cpu,
                       throughput=n / wall)
            if n_big is not None:
                row["n_big"] = n_big
            rows.append(row)
    s = runtime.summarize(pd.DataFrame(rows), little_gmacs=1.0, big_gmacs=10.0).set_index("mode")
    assert list(s.index) == ["resident", "online"]
    r = s.loc["resident"]
    assert r["repeats"] == 3 and r["frac_big"] == pytest.approx(0.3)
    assert r["little_throughput"] == pytest.approx(100) and r["big_throughput"] == pytest.approx(25)
    assert r["throughput"] == pytest.approx(40)
    assert r["speedup_measured"] == pytest.approx(40 / 25)        # not 40 / 100
    assert r["speedup_time_predicted"] == pytest.approx(4.0 / 2.2)  # n t_big / (n t_l + n_big t_b)
    assert r["speedup_macs"] == pytest.approx(10 / (1 + 0.3 * 10))
    assert r["overhead"] == pytest.approx(2.5 / 2.2 - 1)
    assert r["overhead_cpu"] == pytest.approx(2.0 / (0.8 + 30 * 0.032) - 1)
    assert r["speedup_cpu"] == pytest.approx(3.2 / 2.0)
    assert r["t_little_ms"] == pytest.approx(10) and r["t_big_ms"] == pytest.approx(40)
    o = s.loc["online"]  # against the batch-1 baselines, not the batched ones
    assert o["n"] == 20 and o["frac_big"] == pytest.approx(0.4)
    assert o["speedup_measured"] == pytest.approx((20 / 0.9) / (20 / 1.0))
    assert o["speedup_time_predicted"] == pytest.approx(1.0 / (0.4 + 8 * 0.05))
    assert o["overhead"] == pytest.approx(0.9 / (0.4 + 8 * 0.05) - 1)
    # spread over repeats: the slow third repeat is the minimum, the two fast ones the maximum
    assert r["throughput_min"] == pytest.approx(100 / 7.5) and r["throughput_max"] == pytest.approx(40)
    assert r["speedup_measured_min"] == pytest.approx((100 / 7.5) / 25)
    assert r["speedup_measured_max"] == pytest.approx(40 / 25)
    assert r["big_throughput_min"] == r["big_throughput_max"] == pytest.approx(25)
    assert r["overhead_max"] == pytest.approx(7.5 / 2.2 - 1)
    assert r["mean_latency_ms_min"] == r["mean_latency_ms_max"] == pytest.approx(1.0)
    assert o["speedup_measured_min"] == o["speedup_measured_max"] == pytest.approx(1.0 / 0.9)


def test_speedup_claim_follows_the_spread_over_settings_and_repeats():
    import pandas as pd
    from littlebig_utils.book import claims
    from littlebig_utils.book import verdicts as v

    def decide(med, lo, hi, mode="swapped"):
        s = pd.DataFrame(dict(mode="swapped", speedup_measured=med, speedup_measured_min=lo,
                              speedup_measured_max=hi))
        return claims.decide("lb-tab-a4", **chapter.claim_numbers(s, mode))
    assert chapter.claim_numbers(pd.DataFrame(dict(
        mode=["swapped", "swapped", "resident"], speedup_measured=[1.5, 1.2, 3.0],
        speedup_measured_min=[1.4, 1.05, 2.9], speedup_measured_max=[1.6, 1.3, 3.1]))) == dict(
        speedup=pytest.approx(1.35), speedup_lo=1.05, speedup_hi=1.6)
    assert decide([1.5, 1.2], [1.4, 1.05], [1.6, 1.3]).label == v.REPRODUCED
    out = decide([1.5, 1.2], [1.4, 0.95], [1.6, 1.3])
    assert out.label == v.PARTLY and "0.95" in out.reason
    assert decide([0.9, 0.8], [0.8, 0.7], [0.95, 0.9]).label == v.NOT_REPRODUCED
    assert decide([1.5], [1.4], [1.6], mode="online").label == v.NOT_TESTABLE


def test_stratified_subset_keeps_the_fraction_in_every_prefix():
    from littlebig_utils.run.runtime import stratified_subset
    to_big = np.random.default_rng(0).random(5000) < 0.42
    idx = stratified_subset(to_big, 12, seed=1)
    assert len(np.unique(idx)) == 12
    chosen = to_big[idx]
    assert chosen.sum() == round(12 * to_big.mean())
    prefix = np.cumsum(chosen) / np.arange(1, 13)
    assert np.abs(prefix[3:] - to_big.mean()).max() < 0.15
    with pytest.raises(ValueError, match="n must be"):
        stratified_subset(to_big, 0)


def test_summarize_every_column_with_load_time_and_a_repeat_without_the_mode():
    """Swapped mode (loading counted in `overhead`, not in `overhead_no_load`) missing from the
    first repeat; every column of the summary from hand-computed values. Batched: little 100 in
    1 s, big 100 in 4 s, swapped 30 to big in 3 s of which 0.5 s loading; online (batch 1,
    20 requests): little 0.4 s, big 1.0 s, cascade 8 to big in 0.9 s."""
    import pandas as pd
    runs = {  # run: n, wall, cpu, load, mean latency, p95 latency, batch size, n_big
        "little": (100, 1.0, 0.8, 0.0, 1.0, 2.0, 10, None),
        "big": (100, 4.0, 3.2, 0.0, 5.0, 9.0, 10, None),
        "swapped": (100, 3.0, 2.4, 0.5, 3.0, 7.0, 10, 30),
        "little_online": (20, 0.4, 0.4, 0.0, 20.0, 30.0, 1, None),
        "big_online": (20, 1.0, 1.0, 0.0, 50.0, 60.0, 1, None),
        "online": (20, 0.9, 0.9, 0.0, 45.0, 80.0, 1, 8),
    }
    rows = []
    for repeat in (0, 1, 2):
        for run, (n, wall, cpu, load, mean, p95, bs, n_big) in runs.items():
            if run == "swapped" and repeat == 0:
                continue  # e.g. a mode timed only in later repeats
            row = dict(repeat=repeat, run=run, device="cpu", batch_size=bs, n=n, wall_s=wall,
                       cpu_s=cpu, load_s=load, throughput=n / wall, mean_latency_ms=mean,
                       p95_latency_ms=p95)
            if n_big is not None:
                row["n_big"] = n_big
            rows.append(row)
    raw = pd.DataFrame(rows)
    s = runtime.summarize(raw, little_gmacs=1.0, big_gmacs=10.0).set_index("mode")
    assert list(s.index) == ["swapped", "online"]
    predicted = 100 * 0.01 + 30 * 0.04
    want = dict(device="cpu", n=100, batch_size=10, n_big=30, frac_big=0.3, repeats=2,
                throughput=100 / 3, mean_latency_ms=3.0, p95_latency_ms=7.0,
                big_throughput=25.0, big_mean_latency_ms=5.0, big_p95_latency_ms=9.0,
                little_throughput=100.0, speedup_measured=(100 / 3) / 25,
                speedup_time_predicted=4.0 / predicted, speedup_macs=10 / (1 + 0.3 * 10),
                overhead=3.0 / predicted - 1, overhead_no_load=2.5 / predicted - 1, load_s=0.5,
                overhead_cpu=2.4 / (0.8 + 30 * 0.032) - 1, speedup_cpu=3.2 / 2.4,
                t_little_ms=10.0, t_big_ms=40.0)
    spread = {c for c in s.columns if c.endswith(("_min", "_max"))}
    assert set(s.columns) - spread == set(want)
    for k, w in want.items():
        got = s.loc["swapped", k]
        assert got == (w if isinstance(w, str) else pytest.approx(w)), k
    for c in spread:  # identical repeats: the spread over repeats is the value itself
        assert s.loc["swapped", c] == pytest.approx(s.loc["swapped", c.rsplit("_", 1)[0]]), c
    o = s.loc["online"]
    assert (o["n"], o["batch_size"], o["n_big"], o["repeats"]) == (20, 1, 8, 3)
    assert (o["mean_latency_ms"], o["p95_latency_ms"]) == (45.0, 80.0)
    assert (o["big_mean_latency_ms"], o["big_p95_latency_ms"]) == (50.0, 60.0)  # batch-1 big
    assert o["little_throughput"] == pytest.approx(50.0) and o["big_throughput"] == pytest.approx(20.0)
    # one repeat: the mode's own first row gives n, batch size and n_big
    one = runtime.summarize(raw[raw["repeat"] == 1], 1.0, 10.0).set_index("mode")
    assert one.loc["swapped", "repeats"] == 1 and one.loc["swapped", "n_big"] == 30
    assert one.loc["swapped", "overhead_no_load"] == pytest.approx(2.5 / predicted - 1)


def test_speedup_figure_draws_the_spread_and_keeps_the_legend_below():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    summary = pd.DataFrame(dict(setting=["a->b", "a->b"], mode=["resident", "swapped"],
                                speedup_macs=[2.0, 2.0], speedup_time_predicted=[1.5, 1.5],
                                speedup_measured=[1.4, 1.1], speedup_measured_min=[1.3, 0.9],
                                speedup_measured_max=[1.6, 1.2]))
    reported = pd.DataFrame(dict(little=["B0"], speedup_macs=[1.5], speedup_measured=[1.52]))
    fig = chapter.speedup_figure(summary, reported)
    fig.canvas.draw()
    top = fig.legends[0].get_window_extent().y1
    assert all(top <= ax.get_window_extent().y0 for ax in fig.axes)
    bars = [p for p in fig.axes[0].patches]
    assert [round(b.get_height(), 2) for b in bars[-2:]] == [1.4, 1.1]  # measured, last group
    errs = [c for c in fig.axes[0].containers if getattr(c, "errorbar", None) is not None]
    assert len(errs) == 1
    plt.close(fig)


def test_chapter_tables_and_checks():
    import pandas as pd
    from littlebig_utils.book.notebook import ParameterError
    rep = chapter.reported_a4().set_index("little")
    assert rep.loc["B4-380", "speedup_macs"] == pytest.approx(1 / 0.19)
    assert rep.loc["B0-224", "speedup_measured"] == pytest.approx(54.0 / 35.5)
    known = {"a", "b", "cifar_resnet20"}
    assert chapter.check_settings(["a->b"], known) == ["a->b"]
    for bad, msg in (("a-b", "must be"), ("a->a", "must be"), ("a->zz", "must be"),
                     ("cifar_resnet20->b", "mixes")):
        with pytest.raises(ParameterError, match=msg):
            chapter.check_settings([bad], known)
    summary = pd.DataFrame(dict(setting=["a->b"], mode=["swapped"], frac_big=[0.25],
                                speedup_measured=[1.5], speedup_measured_min=[1.25],
                                speedup_measured_max=[1.75], speedup_time_predicted=[1.6],
                                speedup_macs=[2.0], overhead=[0.07]))
    row = chapter.speedup_table(summary).iloc[0]
    assert row["pair"] == "a → b" and row["measured"] == "1.50 (1.25–1.75)"
    assert row["frac_big"] == 25.0 and row["overhead"] == pytest.approx(7.0)


def test_chapter_parameter_checks_refuse_in_one_line():
    from littlebig_utils.book.notebook import ParameterError
    good = dict(settings=["cifar_resnet20->cifar_resnet56"], device="cpu",
                n_samples={"cifar": 8, "imagenet": 2}, batch_size={"cifar": 4, "imagenet": 2},
                n_online={"cifar": 2, "imagenet": 1}, repeats=2, threads=1, cifar_sweep_n=None)
    assert chapter.check_parameters(**good) == (good["settings"], good["n_samples"],
                                                good["batch_size"], good["n_online"])
    text = dict(settings='["cifar_resnet20->cifar_resnet56"]', n_samples='{"cifar": 8, "imagenet": 2}')
    assert chapter.check_parameters(**{**good, **text})[:2] == (good["settings"], good["n_samples"])
    for name, value, match in (("settings", "cifar_resnet20->cifar_resnet56", "settings"),("device", "tpu", "device"), ("n_samples", 8, "n_samples"),
                               ("batch_size", {"cifar": 0, "imagenet": 2}, "batch_size"),
                               ("n_online", {"cifar": 2}, "n_online"), ("repeats", 0, "repeats"),
                               ("threads", -1, "threads"), ("cifar_sweep_n", 5, "cifar_sweep_n"),
                               ("settings", ["cifar_resnet20->nope"], "must be")):
        with pytest.raises(ParameterError, match=match) as e:
            chapter.check_parameters(**{**good, name: value})
        assert "\n" not in str(e.value)


def test_cifar_setting_times_the_lossless_images_with_the_cached_threshold(tmp_path, monkeypatch):
    """The CIFAR setting runs on the lossless test images (never the JPEG copy) and takes its
    threshold from the cached predictions every CIFAR chapter reads."""
    import torch.nn as nn

    from littlebig_utils.core import engine
    from littlebig_utils.core.predictions import Predictions
    from littlebig_utils.run import cifar, costs, predict
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    ids = np.array([f"test_{i:05d}" for i in range(40)])
    labels = rng.integers(0, 10, 40)
    monkeypatch.setattr(cifar, "load_lossless_split", lambda split="test", limit=None:
                        (imgs, labels, ids))
    monkeypatch.setattr(cifar, "load_jpeg_split", lambda split="test": (255 - imgs, labels, ids))
    monkeypatch.setattr(predict, "create_model", lambda name, pretrained=True: nn.Linear(2, 2))
    monkeypatch.setattr(costs, "arch_gmacs", lambda arch, size: (0.1 if arch == "s" else 0.5, 1.0))
    calls, recs = [], {}

    def cached(model, dataset, limit=None, **kw):
        calls.append((model, dataset, limit))
        n = limit or 40
        skill = 0.5 if model == "s" else 0.9
        r = np.random.default_rng(len(model))
        preds = np.where(r.random(n) < skill, labels[:n], (labels[:n] + 1) % 10)
        recs[model] = Predictions(ids[:n], labels[:n], preds, r.random(n), None, {"name": model},
                                  dataset)
        return recs[model]
    monkeypatch.setattr(predict, "cached_predictions", cached)
    s = runtime.cifar_setting(tmp_path, 8, "s", "b", n_sweep=None)
    assert calls == [("s", "cifar10-test", None), ("b", "cifar10-test", None)]
    np.testing.assert_allclose(s.inputs.numpy(), cifar.to_tensor(imgs[:8]).numpy())
    point = engine.no_loss_point(engine.sweep(recs["s"], recs["b"]))
    assert s.threshold == float(point["threshold"]) and s.n_full == 40
    runtime.cifar_setting(tmp_path, 8, "s", "b", n_sweep=20)
    assert calls[-1] == ("b", "cifar10-test", 20)
    with pytest.raises(ValueError, match="n and n_sweep"):
        runtime.cifar_setting(tmp_path, 80, "s", "b")
