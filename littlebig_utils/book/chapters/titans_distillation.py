"""Chapter `titans_distillation` (notebooks/titans_distillation.ipynb): the verdict on the
Titans claim, its figure and its students table."""
from __future__ import annotations

import numpy as np

from littlebig_utils.run.distill import STUDENT_LABELS

__all__ = ["verdict", "deferral_figure", "check_archs", "students_table"]


def verdict(results, budgets=(0.1, 0.25, 0.5)):
    """The chapter's verdict on "better amortized cost than standard distillation", from the
    numbers: Titans vs Hinton distillation at equal cost (accuracy at the budgets' shares
    deferred, mean over budgets and seeds), and whether any cascade is cheaper than the teacher
    alone at the teacher's accuracy.

    - a Titans variant ahead of Hinton at equal cost in every seed, and a Titans cascade
      cheaper than the teacher at its accuracy: Reproduced;
    - a Titans variant ahead of Hinton at equal cost on average: Partly reproduced;
    - every Titans variant behind Hinton: Not reproduced when some cascade is cheaper than the
      teacher at its accuracy (the comparison is in the regime the claim is about), else Not
      testable here (at this training budget no cascade reaches the teacher more cheaply than
      the teacher alone, so the amortized-cost claim is not exercised).
    """
    from littlebig_utils.book.verdicts import NOT_REPRODUCED, NOT_TESTABLE, PARTLY, REPRODUCED, Verdict
    cols = [f"acc_at_{f:g}" for f in budgets]
    per_seed = results.assign(eq=results[cols].mean(axis=1)).pivot(index="seed", columns="student",
                                                                  values="eq")
    titans_cols = [c for c in per_seed.columns if c.startswith("titans")]
    if "hinton" not in per_seed.columns or not titans_cols:
        return Verdict(NOT_TESTABLE, "the run has no Hinton or no Titans student to compare.")
    diffs = {c: per_seed[c] - per_seed["hinton"] for c in titans_cols}
    best = max(diffs, key=lambda c: diffs[c].mean())
    d = float(diffs[best].mean())
    saving = results["macs_reduction"].to_numpy(dtype=float)
    cheaper = np.isfinite(saving) & (saving > 0)
    titans_cheaper = bool((cheaper & results["student"].str.startswith("titans").to_numpy()).any())
    shares = ", ".join(f"{100 * f:g}" for f in budgets)
    text = (f"at equal cost (deferring {shares} % of the images) the better Titans student "
            f"({best.removeprefix('titans_').replace('_', ' ')} rule) is {100 * d:+.2f} points against "
            f"Hinton distillation (mean over {len(per_seed)} seed(s))")
    cost = ("" if cheaper.any() else
            "; no cascade reaches the teacher's accuracy at less cost than the teacher alone")
    if d > 0 and bool((diffs[best] > 0).all()) and titans_cheaper:
        return Verdict(REPRODUCED, f"{text}, and a Titans cascade is cheaper than the teacher "
                                   "at its accuracy.")
    if d > 0:
        return Verdict(PARTLY, f"{text}{cost}.")
    if cheaper.any():
        return Verdict(NOT_REPRODUCED, f"{text}.")
    return Verdict(NOT_TESTABLE, f"{text}{cost}: at this training budget the amortized-cost "
                                 "claim is not exercised, and what is measured does not favour Titans.")


def deferral_figure(curves: dict, results, teacher_accuracy: float, teacher_gmacs: float,
                    title: str = ""):
    """Deferral curves of every student (one colour per objective, one line per seed): cascade
    accuracy against the share deferred (left) and against the mean GMACs per image (right),
    the teacher alone dashed, the no-loss points marked; one legend below both panels.
    `teacher_accuracy` and the tables' accuracies are fractions, drawn in percent."""
    import matplotlib.pyplot as plt

    from littlebig_utils.book import plots as plotting
    names = list(dict.fromkeys(name for name, _ in curves))
    free = [c for c in plotting.PALETTE if c != plotting.BIG]  # the teacher's colour is its own
    colors = {n: free[i % len(free)] for i, n in enumerate(names)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for (name, seed), table in curves.items():
        r = results[(results["student"] == name) & (results["seed"] == seed)].iloc[0]
        label = STUDENT_LABELS.get(name, name) if seed == min(s for n, s in curves if n == name) else None
        for ax, x, xp in ((axes[0], 100 * table["frac_big"], 100 * r["frac_deferred"]),
                          (axes[1], table["gmacs"], r["gmacs"])):
            ax.plot(x, 100 * table["accuracy"], color=colors[name], lw=1.6, label=label)
            if np.isfinite(xp):
                ax.plot([xp], [100 * teacher_accuracy], "o", color=colors[name], ms=6)
    for ax in axes:
        ax.axhline(100 * teacher_accuracy, color=plotting.BIG, ls="--", lw=1.2,
                   label=f"teacher alone ({100 * teacher_accuracy:.2f} %)" if ax is axes[0] else None)
    axes[1].axvline(teacher_gmacs, color="0.5", lw=0.8, ls=":")
    axes[0].set_xlabel("test images deferred to the teacher (%)")
    axes[1].set_xlabel("mean GMACs per image (dotted: the teacher's)")
    axes[0].set_ylabel("cascade top-1 accuracy (%)")
    axes[0].set_xlim(0, 100)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
               frameon=False, fontsize="small")
    return fig


def check_archs(student_arch: str, teacher_arch: str) -> tuple[float, float]:
    """(student GMACs, teacher GMACs) at 32×32, refusing with one line (`ParameterError`) an
    architecture that is not a CIFAR ResNet or a student that is not cheaper than the teacher."""
    from littlebig_utils.run.costs import arch_gmacs
    from littlebig_utils.book.notebook import ParameterError
    for role, arch in (("student_arch", student_arch), ("teacher_arch", teacher_arch)):
        if not str(arch).startswith("cifar_resnet"):
            raise ParameterError(f"{role} must be a CIFAR ResNet (cifar_resnet8, cifar_resnet56, "
                                 f"...), got {arch!r}")
    gs = arch_gmacs(student_arch, 32, num_classes=10)[0]
    gt = arch_gmacs(teacher_arch, 32, num_classes=10)[0]
    if not gs < gt:
        raise ParameterError(f"student {student_arch} ({gs:.4f} GMACs) is not cheaper than teacher "
                             f"{teacher_arch} ({gt:.4f} GMACs): choose a smaller student")
    return gs, gt


def students_table(summary, tolerance: float = 1.0):
    """`summarize_students` for the page: reader's names, accuracies and MACs reduction in
    percent, shares as "x.x %" or "not reached"; `tolerance` in points (the page's unit)."""
    def pct(x):
        return "not reached" if not np.isfinite(x) else f"{100 * x:.1f} %"
    t = summary.reset_index()[["student", "student_accuracy", "frac_deferred", "macs_reduction",
                               "frac_deferred_near", "acc_equal_cost"]]
    t = t.assign(student=t["student"].map(STUDENT_LABELS).fillna(t["student"]),
                 frac_deferred=t["frac_deferred"].map(pct),
                 frac_deferred_near=t["frac_deferred_near"].map(pct),
                 student_accuracy=100 * t["student_accuracy"],
                 macs_reduction=100 * t["macs_reduction"],
                 acc_equal_cost=100 * t["acc_equal_cost"])
    return t.rename(columns={
        "student_accuracy": "student alone (%)", "frac_deferred": "deferred to match teacher",
        "macs_reduction": "MACs reduction there (%)",
        "frac_deferred_near": f"deferred within {tolerance:g} point",
        "acc_equal_cost": "cascade at equal cost (%)"})
