"""Fresh-process start: the package, `load`, the README example and `littlebig threshold`.

    LITTLEBIG_DATA_DIR=../shared/data python benchmarks/bench_startup.py [--repeats 3]

Every timing is the wall time of a new Python process (interpreter start included), the median
of `--repeats` runs. Each is printed next to the old path's time, measured in the same run:
before the committed GMACs table, loading any reference model built the table of all 14
(reading every prediction file, the ReaL labels and timm's tables) and counted the GMACs of
the 13 distinct architectures with torch's FlopCounterMode (`run.costs.arch_gmacs`), which the
old path below does in a new, empty cache folder each time (as on a first run or a fresh
machine; counts cached from an earlier run made it about 10x cheaper, the imports of torch and
timm stayed). The targets are issue 17's: under 1 s for importing the package and loading two
models, under 2 s for the README example and the command. The last lines give the import time
of the libraries that `load` and the examples pull in, to show where the time goes.
Timings depend on the machine and its load; never use them in assertions.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAIR = ["resnet34", "densenet161"]

# what loading reference models did before: the whole models table, then the GMACs of every
# architecture counted with FlopCounterMode (the cache folder is new, so nothing is reused)
OLD_LOAD = """
from littlebig_utils.data import reference
from littlebig_utils.run.costs import arch_gmacs
table = reference.models_table()
for arch, size in sorted({(reference.REFERENCE_ARCH[m][0], s) for m, s in zip(table.model, table.img_size)}):
    arch_gmacs(arch, int(size))
def load(dataset, names):
    return {n: reference.load(dataset, [n])[n] for n in names}
"""


def readme_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return text.split("```python\n", 1)[1].split("```", 1)[0].strip().splitlines()


def cases() -> list[tuple[str, str, str | None, float | None]]:
    """(what, new code, old code or None when unchanged, target seconds)."""
    block = readme_block()
    load_pair = f"load('imagenet-val', {PAIR!r})"
    cli = ("import sys, io, contextlib\nfrom littlebig_utils import cli\n"
           "with contextlib.redirect_stdout(io.StringIO()):\n"
           f"    cli.main(['threshold', '--little', {PAIR[0]!r}, '--big', {PAIR[1]!r}])")
    # the old README and command: the old load first, then the same code (load is then cached)
    old_readme = OLD_LOAD + "\n".join(line for line in block if "import" not in line.split("(")[0])
    old_cli = OLD_LOAD + cli
    return [
        ("import littlebig_utils", "import littlebig_utils", None, 1.0),
        (f"import + load('imagenet-val', 2 models)",
         f"from littlebig_utils import load\n{load_pair}", OLD_LOAD + load_pair, 1.0),
        ("README example (5 lines)", "\n".join(block), "from littlebig_utils import Cascade, split\n"
         + old_readme, 2.0),
        (f"littlebig threshold --little {PAIR[0]} --big {PAIR[1]}", cli, old_cli, 2.0),
    ]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fresh(code: str) -> tuple[float, float, list[str]]:
    """Wall and CPU seconds of a new interpreter running `code`, and the heavy modules it
    imported (CPU time hardly depends on other jobs sharing the machine; wall time does)."""
    probe = ("\nimport sys, json\nprint(json.dumps(sorted(m for m in ('torch', 'timm', 'pandas', "
             "'scipy', 'matplotlib') if m in sys.modules)))")
    with tempfile.TemporaryDirectory() as cache:  # a new, empty cache folder every run
        env = dict(os.environ, LITTLEBIG_CACHE_DIR=cache, LITTLEBIG_OFFLINE="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        with tempfile.TemporaryFile("w+") as out:
            t0, c0 = time.perf_counter(), _children_cpu()
            res = subprocess.run([sys.executable, "-c", code + probe], env=env, cwd=ROOT,
                                 stdout=out, stderr=subprocess.PIPE, text=True)
            seconds, cpu = time.perf_counter() - t0, _children_cpu() - c0
            out.seek(0)
            lines = out.read().strip().splitlines()
    if res.returncode:
        sys.exit(f"this code failed in a fresh process:\n{code}\n{res.stderr[-2000:]}")
    return seconds, cpu, json.loads(lines[-1])


def median_time(code: str, repeats: int) -> tuple[float, float, list[str]]:
    runs = [fresh(code) for _ in range(repeats)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            runs[0][2])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per timing")
    args = parser.parse_args(argv)
    if not os.environ.get("LITTLEBIG_DATA_DIR"):
        sys.exit("set LITTLEBIG_DATA_DIR to the reference data folder (../shared/data)")
    print(f"fresh-process wall time, median of {args.repeats} runs; old path: all 14 files read and "
          "13 architectures counted with FlopCounterMode in an empty cache")
    print(f"{'':56} {'-- new (s) --':>13} {'-- old (s) --':>13}")
    print(f"{'what':56} {'wall':>6} {'cpu':>6} {'wall':>6} {'cpu':>6} {'speed-up':>8} "
          f"{'target':>7}  imports (new)")
    for what, new, old, target in cases():
        t_new, c_new, mods = median_time(new, args.repeats)
        if old is None:
            old_s, ratio = f"{'same':>6} {'':>6}", "-"
        else:
            t_old, c_old, _ = median_time(old, args.repeats)
            old_s, ratio = f"{t_old:6.2f} {c_old:6.2f}", f"{t_old / t_new:.1f}x"
        verdict = "met" if t_new < target else "MISSED"
        print(f"{what:56} {t_new:6.2f} {c_new:6.2f} {old_s} {ratio:>8} "
              f"{'<' + format(target, 'g') + ' s':>7}  {', '.join(mods) or '-'} ({verdict})")
    print("import time of what load and the examples pull in (fresh process each, median wall / cpu):")
    for module in ("numpy", "pandas", "scipy.stats", "littlebig_utils.core.predictions",
                   "littlebig_utils.core.estimator", "littlebig_utils.cli"):
        t, c, _ = median_time(f"import {module}", args.repeats)
        print(f"  {module:40} {t:6.2f} {c:6.2f} s")


if __name__ == "__main__":
    main()
