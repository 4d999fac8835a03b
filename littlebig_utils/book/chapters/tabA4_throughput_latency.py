"""Chapter `tabA4_throughput_latency` (notebooks/tabA4_throughput_latency.ipynb): the paper's
Table A.4, the measurement (through `run.runtime`), the statistic of its claim (measured
speedups), and the chapter's figure, tables and prose numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["claim_numbers", "speedup_figure", "REPORTED_A4", "reported_a4", "check_settings",
           "setup_table", "speedup_table", "CIFAR_MODELS", "SMOKE", "check_parameters", "measure",
           "setup_markdown", "ours_markdown", "reported_markdown", "numbers", "cifar_changes"]


def claim_numbers(summary: pd.DataFrame, mode: str = "swapped") -> dict:
    """The statistic of claim ``lb-tab-a4`` (`book.claims`): the measured speedup of the
    cascade over the big model alone in `mode` (one model in memory at a time: "swapped"), the
    median over settings of each setting's median, spread from the slowest to the fastest
    single repeat of any setting; None when no such row was timed."""
    rows = summary[summary["mode"] == mode]
    if rows.empty:
        return dict(speedup=None, speedup_lo=None, speedup_hi=None)
    return dict(speedup=float(rows["speedup_measured"].median()),
                speedup_lo=float(rows["speedup_measured_min"].min()),
                speedup_hi=float(rows["speedup_measured_max"].max()))


def speedup_figure(summary: pd.DataFrame, reported: pd.DataFrame | None = None, title: str = ""):
    """Speedup over the big model alone per setting and mode: predicted from MACs, predicted
    from the two models' measured times, and measured (median, with min–max over repeats as
    an error bar); right panel, when `reported` (columns little, speedup_macs,
    speedup_measured) is given: the paper's Table A.4. One legend below the panels."""
    import matplotlib.pyplot as plt

    from littlebig_utils.book import plots as plotting
    ncols = 1 if reported is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(11, 4.4), squeeze=False,
                             gridspec_kw=dict(width_ratios=[1.6, 1][:ncols]))
    ax = axes[0, 0]
    x = np.arange(len(summary))
    kinds = [("speedup_macs", "predicted from MACs", plotting.PALETTE[0]),
             ("speedup_time_predicted", "predicted from the models' times", plotting.PALETTE[1]),
             ("speedup_measured", "measured (median; bar: min–max over repeats)", plotting.PALETTE[2])]
    for i, (col, name, color) in enumerate(kinds):
        err = None
        if col == "speedup_measured" and "speedup_measured_min" in summary:
            err = np.vstack([summary[col] - summary["speedup_measured_min"],
                             summary["speedup_measured_max"] - summary[col]])
        ax.bar(x + (i - 1) * 0.27, summary[col], width=0.27, color=color, label=name,
               yerr=err, capsize=2 if err is not None else 0)
    ax.axhline(1, color="k", lw=0.8)
    ax.set_xticks(x, summary["mode"], fontsize=8)
    # the pair once under its group of modes, instead of squeezed into every tick label
    from matplotlib.transforms import blended_transform_factory
    along = blended_transform_factory(ax.transData, ax.transAxes)
    for setting in dict.fromkeys(summary["setting"]):
        at = x[(summary["setting"] == setting).to_numpy()]
        little, _, big = setting.partition("->")
        ax.text(at.mean(), -0.1, f"{little} →\n{big}", transform=along, ha="center", va="top",
                fontsize=8)
    ax.set_ylabel("speedup over the big model alone (×)")
    ax.set_title(title or "ours", fontsize="small")
    if reported is not None:
        ax2 = axes[0, 1]
        xr = np.arange(len(reported))
        ax2.bar(xr - 0.2, reported["speedup_macs"], width=0.4, color=plotting.PALETTE[0])
        ax2.bar(xr + 0.2, reported["speedup_measured"], width=0.4, color=plotting.PALETTE[2])
        ax2.axhline(1, color="k", lw=0.8)
        ax2.set_xticks(xr, reported["little"], fontsize=8)
        ax2.set_xlabel("little model (big: EfficientNet-B7-600)")
        ax2.set_ylabel("speedup over B7-600 alone (×)")
        ax2.set_title("reported: the paper's Table A.4 (GPU, swapped)", fontsize="small")
    fig.tight_layout()
    fig.legend(*ax.get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=3, frameon=False, fontsize="small")
    return fig


#: the paper's Table A.4 (authors' ICLR 2025 response; GPU, one model in memory at a time, big
#: model EfficientNet-B7-600): change in top-1 (points) and GMACs (%) against B7-600 alone,
#: throughput (samples/s), change in throughput (%), latency (ms)
REPORTED_A4 = [("B7-600 alone", np.nan, np.nan, 35.5, np.nan, 28.2),
               ("B0-224", 0.01, -25, 54.0, 52, 18.5), ("B1-240", 0.01, -13, 39.9, 12, 25.1),
               ("B2-288", 0.00, -59, 76.6, 116, 13.1), ("B3-300", 0.02, -61, 86.4, 144, 11.6),
               ("B4-380", 0.01, -81, 155.2, 338, 6.4), ("B5-456", 0.01, -65, 97.1, 174, 10.3),
               ("B6-528", 0.02, -47, 62.4, 76, 16.0)]


def reported_a4() -> pd.DataFrame:
    """`REPORTED_A4` as a frame, with the speedup its own Δ GMACs predicts, 1 / (1 + Δ), and
    its measured speedup, throughput over B7-600's alone."""
    t = pd.DataFrame(REPORTED_A4, columns=["little", "delta_acc_points", "delta_gmacs_pct",
                                           "throughput", "delta_throughput_pct", "latency_ms"])
    t["speedup_macs"] = 1 / (1 + t["delta_gmacs_pct"] / 100)
    t["speedup_measured"] = t["throughput"] / t.loc[0, "throughput"]
    return t


def check_settings(names, known) -> list[str]:
    """Refuse, with one line (`notebook.ParameterError`), a setting that is not 'little->big'
    with two different known models of the same kind (CIFAR or ImageNet)."""
    from littlebig_utils.book.notebook import ParameterError
    for name in names:
        a, sep, b = str(name).partition("->")
        if not sep or a not in known or b not in known or a == b:
            raise ParameterError(f"setting {name!r} must be 'little->big' with two different "
                                 f"known models ({', '.join(sorted(known))})")
        if a.startswith("cifar_") != b.startswith("cifar_"):
            raise ParameterError(f"setting {name!r} mixes a CIFAR and an ImageNet model")
    return list(names)


def setup_table(built: dict) -> pd.DataFrame:
    """One row per built `Setting`: what a reader needs to know about the timed pair."""
    return pd.DataFrame([dict(
        pair=s.name.replace("->", " → "), weights=s.info["weights"].split(" (")[0],
        input_px="/".join(str(v) for v in s.info["img_size"]),
        gmacs=f"{s.little_gmacs:.3f} → {s.big_gmacs:.3f}", threshold=s.threshold,
        frac_big=100 * s.frac_big_full, n_full=s.n_full) for s in built.values()])


def speedup_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, mode): share sent to big (%), measured speedup as "median
    (min–max)" over repeats, the speedups predicted from times and from MACs, overhead (%)."""
    def spread(r, col):
        return f"{r[col]:.2f} ({r[col + '_min']:.2f}–{r[col + '_max']:.2f})"
    return pd.DataFrame([dict(
        pair=r["setting"].replace("->", " → "), mode=r["mode"], frac_big=100 * r["frac_big"],
        measured=spread(r, "speedup_measured"), time_predicted=r["speedup_time_predicted"],
        macs_predicted=r["speedup_macs"], overhead=100 * r["overhead"])
        for _, r in summary.iterrows()])


# ------------------------------------------------------------------ running the measurement

CIFAR_MODELS = ("cifar_resnet20", "cifar_resnet32", "cifar_resnet44", "cifar_resnet56")
SMOKE = dict(n_samples={"cifar": 128, "imagenet": 4}, n_online={"cifar": 8, "imagenet": 2},
             batch_size={"cifar": 64, "imagenet": 2}, repeats=2, cifar_sweep_n=1000)


def _mapping(value):
    """papermill passes ``-p n_samples '{"cifar": 64, "imagenet": 8}'`` as text: read it as the
    dict literal it spells (literals only, never code); anything else unchanged."""
    if isinstance(value, str) and value.strip().startswith("{"):
        import ast
        try:
            return ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return value
    return value


def check_parameters(settings, device: str, n_samples: dict, batch_size: dict, n_online: dict,
                     repeats, threads, cifar_sweep_n) -> tuple:
    """Every parameter of the chapter, refused in one line (`notebook.ParameterError`) when bad:
    the settings, the device, per-kind sample counts and batch sizes, repeats and threads.
    Returns (settings, n_samples, batch_size, n_online), papermill's text read as the list or
    dict it spells."""
    from littlebig_utils.book.notebook import ParameterError, integer, listed
    from littlebig_utils.data.reference import REFERENCE_ARCH
    settings = listed(settings)
    if isinstance(settings, str) or not isinstance(settings, list) or not settings:
        raise ParameterError(f"parameter settings must be a list of 'little->big' pairs, got "
                             f"{settings!r} (e.g. -p settings '[\"cifar_resnet20->cifar_resnet56\"]')")
    check_settings(settings, set(REFERENCE_ARCH) | set(CIFAR_MODELS))
    if device not in ("cpu", "cuda"):
        raise ParameterError(f"parameter device must be 'cpu' or 'cuda', got {device!r} "
                             "(e.g. -p device cuda)")
    out = []
    for name, value in (("n_samples", n_samples), ("batch_size", batch_size),
                        ("n_online", n_online)):
        value = _mapping(value)
        if not isinstance(value, dict) or set(value) != {"cifar", "imagenet"}:
            raise ParameterError(f"parameter {name} must map 'cifar' and 'imagenet' to a number, "
                                 f"got {value!r} (e.g. -p {name} '{{\"cifar\": 64, \"imagenet\": 8}}')")
        out.append({kind: integer(f"{name}[{kind!r}]", v, minimum=1) for kind, v in value.items()})
    integer("repeats", repeats, minimum=1)
    integer("threads", threads, minimum=0)
    if cifar_sweep_n is not None:
        integer("cifar_sweep_n", cifar_sweep_n, minimum=100, example=10000)
    return (list(settings), *out)


def measure(settings, device: str, n_samples: dict, batch_size: dict, n_online: dict,
            repeats: int, threads: int, cifar_sweep_n):
    """Time every setting (`run.runtime.measure_settings`) with `threads` torch CPU threads
    (0: torch's default); returns (summary, raw timings, built settings, device name)."""
    import platform
    import tempfile

    import torch

    from littlebig_utils.run import runtime
    if threads and device == "cpu":
        torch.set_num_threads(threads)
    name = (f"GPU {torch.cuda.get_device_name(0)}" if device == "cuda" else
            f"CPU ({platform.machine()}, {torch.get_num_threads()} torch thread(s), shared with "
            "other jobs)")
    with tempfile.TemporaryDirectory() as folder:
        summary, raw, built = runtime.measure_settings(
            settings, folder, device=device, n_samples=n_samples, batch_size=batch_size,
            n_online=n_online, repeats=repeats, cifar_sweep_n=cifar_sweep_n, log=None)
    return summary, raw, built, name


def setup_markdown(built: dict) -> str:
    """`setup_table` as the chapter's table (reader's headers)."""
    from littlebig_utils.book.notebook import markdown_table
    return markdown_table(setup_table(built), formats={"threshold": ".3f", "frac_big": ".1f"},
                          headers={"input_px": "input (px)", "gmacs": "GMACs little → big",
                                   "threshold": "T", "frac_big": "sent to big (%)",
                                   "n_full": "T chosen on (images)"})


def ours_markdown(summary: pd.DataFrame) -> str:
    """`speedup_table` as the chapter's table (reader's headers)."""
    from littlebig_utils.book.notebook import markdown_table
    return markdown_table(speedup_table(summary), formats={"frac_big": ".1f", "overhead": ".1f"},
                          headers={"frac_big": "sent to big (%)",
                                   "measured": "measured speedup (×), median (min–max)",
                                   "time_predicted": "predicted from times (×)",
                                   "macs_predicted": "predicted from MACs (×)",
                                   "overhead": "overhead (%)"})


def reported_markdown(reported: pd.DataFrame) -> str:
    """`reported_a4` as the chapter's table (reader's headers)."""
    from littlebig_utils.book.notebook import markdown_table
    return markdown_table(reported.drop(columns="latency_ms"), formats={
        "delta_acc_points": ".2f", "delta_gmacs_pct": ".0f", "throughput": ".1f",
        "delta_throughput_pct": ".0f", "speedup_macs": ".2f", "speedup_measured": ".2f"}, headers={
        "delta_acc_points": "Δ top-1 (points)", "delta_gmacs_pct": "Δ GMACs (%)",
        "throughput": "samples/s", "delta_throughput_pct": "Δ throughput (%)",
        "speedup_macs": "speedup from Δ GMACs (×)", "speedup_measured": "measured speedup (×)"})


def numbers(summary: pd.DataFrame, reported: pd.DataFrame) -> dict:
    """The numbers the chapter's prose quotes about our measurements and the reported table."""
    rep = reported.iloc[1:].set_index("little")
    resident = summary[summary["mode"] == "resident"]
    return dict(
        resident_overhead_max=100 * float(resident["overhead"].max()),
        resident_overhead_cpu_max=100 * float(resident["overhead_cpu"].max()),
        macs_over_time_max=float((summary["speedup_macs"] / summary["speedup_time_predicted"]).max()),
        n_rows=len(summary),
        n_below_macs=int((summary["speedup_measured"] < summary["speedup_macs"]).sum()),
        reported_min_gain=float(rep["delta_throughput_pct"].min()),
        reported_max_gain=float(rep["delta_throughput_pct"].max()),
        reported_b4_macs=float(rep.loc["B4-380", "speedup_macs"]),
        reported_b4_measured=float(rep.loc["B4-380", "speedup_measured"]),
        reported_b0_macs=float(rep.loc["B0-224", "speedup_macs"]),
        reported_b0_measured=float(rep.loc["B0-224", "speedup_measured"]),
        reported_latency_ratio_dev=float((reported["latency_ms"] * reported["throughput"] / 1000
                                          - 1).abs().max()),
        speedups_alt=(f"Bar chart of the cascade's speedup over the big model for {len(summary)} "
                      f"setting and mode combinations: measured medians from "
                      f"{summary['speedup_measured'].min():.2f}x to "
                      f"{summary['speedup_measured'].max():.2f}x, against "
                      f"{summary['speedup_macs'].min():.2f}x to {summary['speedup_macs'].max():.2f}x "
                      "predicted from MACs; right, the paper's reported speedups."))


def cifar_changes(built: dict) -> dict:
    """The CIFAR setting's no-loss point on the lossless images (timed here) against the same
    pair's on the JPEG copy the chapter used before, both over the images T is chosen on
    (cached predictions of the CIFAR chapters): T and the share sent to big (percent). Empty
    strings when no CIFAR setting was timed."""
    from littlebig_utils.core import engine
    from littlebig_utils.run.predict import cached_predictions
    cifar = [s for s in built.values() if s.kind == "cifar"]
    if not cifar:
        return dict(cifar_change="no CIFAR pair was timed in this run")
    s = cifar[0]
    limit = None if s.n_full == 10_000 else s.n_full
    jpeg = [cached_predictions(spec.name, "cifar10-test-jpeg", limit=limit)
            for spec in (s.little, s.big)]
    point = engine.no_loss_point(engine.sweep(*jpeg))
    if point is None:
        return dict(cifar_change=f"on the JPEG copy {s.name} never matches the big model")
    return dict(cifar_change=(
        f"{s.name.replace('->', ' → ')} sends {100 * s.frac_big_full:.1f} % of the lossless test "
        f"images to the big model at T = {s.threshold:.3f}; on the JPEG copy of the same images "
        f"it sent {100 * float(point['frac_big']):.1f} % at T = {float(point['threshold']):.3f}"))
