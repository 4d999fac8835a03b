"""Mutation score of littlebig_utils/core on a seeded, uniform random sample of its mutants.

    python .ci/mutation_sample.py run [--sample 400] [--seed 0] [--workers 2]
    python .ci/mutation_sample.py score   # again, after `mutmut run NAME ...` on survivors
    python .ci/mutation_sample.py note    # write the survivors table of tests/MUTATION.md

`run` starts from an empty mutants/ folder, lets mutmut (3.8.x) write every mutant of the
files that `[tool.mutmut] only_mutate` names (no test is run for that), lists them from
mutmut's meta files (mutants/<path>.meta), draws `--sample` of them with
`random.Random(seed).sample` over the sorted names of the files in `--scope`, runs only
those (`mutmut run NAME ...`) and prints the score and the survivors. The sample and each
mutant's status after the run are kept in mutants/mutation-sample.json (git-ignored).

Score (tests/MUTATION.md): killed = mutmut's "killed" plus "timeout" (a mutant that makes a
test run past mutmut's time limit is detected). Every other status (survived, no tests,
suspicious, segfault, not checked, ...) is not killed.
    raw score = killed / sampled
    score     = killed / (sampled - equivalent), equivalent = the sample's not-killed mutants
                that tests/MUTATION.md marks "equivalent: <argument>".
"""
from __future__ import annotations

import argparse
import contextlib
import fnmatch
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
RECORD = MUTANTS / "mutation-sample.json"
NOTE = ROOT / "tests" / "MUTATION.md"
SCOPE = "littlebig_utils/core/*.py"
KILLED = frozenset({"killed", "timeout"})
BEGIN, END = "<!-- survivors:begin -->", "<!-- survivors:end -->"
# | `mutant` | `change` | status | verdict |   (the change cell never holds a backtick: cell())
ROW = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|\s*`(?P<change>[^`]*)`\s*\|[^|]*\|\s*(?P<verdict>.*?)\s*\|\s*$")


class SampleError(ValueError):
    """A one-line refusal: bad arguments, no sample yet, a malformed note."""


def _mutmut():
    """mutmut's internals used here (mutant writing, meta files, diffs), as in 3.8.x."""
    found = version("mutmut")
    try:
        import mutmut.__main__ as main
        from mutmut.mutation import data, diff_apply
        from mutmut.utils import file_utils
        from mutmut import stats
        for module, names in [(main, ["create_mutants"]), (data, ["SourceFileMutationData"]),
                              (diff_apply, ["get_diff_for_mutant"]), (stats, ["status_by_exit_code"]),
                              (file_utils, ["copy_src_dir", "copy_also_copy_files",
                                            "walk_mutatable_files"])]:
            for name in names:
                getattr(module, name)
    except (ImportError, AttributeError) as exc:
        raise SampleError(f"mutmut {found} lacks what this script reads from mutmut 3.8 ({exc}): "
                          "pip install 'mutmut>=3.8,<3.9'") from None
    return main


# --- listing and sampling -------------------------------------------------------------------

def generate() -> dict[str, str]:
    """Write every mutant (no test run) and return {mutant name: source path}."""
    main = _mutmut()
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, walk_mutatable_files

    shutil.rmtree(MUTANTS, ignore_errors=True)  # stale copies of unmutated files are never refreshed
    MUTANTS.mkdir()
    with contextlib.redirect_stdout(io.StringIO()):  # one line per file copied or mutated
        copy_src_dir()
        copy_also_copy_files()
        main.create_mutants(max_children=2)
    names = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        names.update(dict.fromkeys(data.exit_code_by_key, str(path)))
    return names


def draw(population: list[str], n: int, seed: int) -> list[str]:
    """A uniform sample of n names (all of them when n >= the population), sorted."""
    if n <= 0:
        raise SampleError(f"--sample must be a positive number of mutants, got {n}")
    population = sorted(population)
    return sorted(random.Random(seed).sample(population, min(n, len(population))))


def module_of(name: str) -> str:
    return name.partition("__mutmut_")[0].rpartition(".")[0]


# --- statuses and score ---------------------------------------------------------------------

def statuses(paths: dict[str, str]) -> dict[str, str]:
    """Current status of each named mutant, from mutmut's meta files."""
    _mutmut()
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code

    codes = {}
    for path in sorted(set(paths.values())):
        data = SourceFileMutationData(path=path)
        data.load()
        codes.update(data.exit_code_by_key)
    return {name: status_by_exit_code[codes.get(name)] for name in paths}


def read_table(text: str) -> dict[str, tuple[str, str]]:
    """{mutant: (change cell, verdict)} from the survivors table of tests/MUTATION.md."""
    if BEGIN not in text or END not in text:
        return {}
    rows = {}
    for line in text[text.index(BEGIN):text.index(END)].splitlines():
        m = ROW.match(line)
        if not m:
            continue
        verdict = m["verdict"]
        if verdict.lower().startswith("equivalent") and not verdict.partition(":")[2].strip():
            raise SampleError(f"tests/MUTATION.md: `{m['name']}` is marked equivalent without "
                              "an argument: write `equivalent: <why no input can tell>`")
        rows[m["name"]] = (m["change"], verdict)
    return rows


def verdicts_for(sample: dict[str, str], rows: dict[str, tuple[str, str]]) -> tuple[dict, list]:
    """The table's verdicts that still describe the sample's mutants: a name whose change is
    not the one in the table (the core changed and mutmut renumbered) loses its verdict."""
    verdicts, moved = {}, []
    for name, (stored, verdict) in rows.items():
        if name not in sample:
            continue
        if stored == cell(change(name, sample[name])):
            verdicts[name] = verdict
        elif verdict != "open":
            moved.append(name)
    return verdicts, moved


def is_equivalent(verdict: str) -> bool:
    return verdict.lower().startswith("equivalent:")


def score(status: dict[str, str], verdicts: dict[str, str]) -> dict:
    """Counts and both scores of a sample (see the module docstring)."""
    sampled = len(status)
    killed = sum(s in KILLED for s in status.values())
    equivalent = sum(s not in KILLED and is_equivalent(verdicts.get(n, ""))
                     for n, s in status.items())
    return dict(sampled=sampled, killed=killed, equivalent=equivalent,
                raw=killed / sampled if sampled else float("nan"),
                score=killed / (sampled - equivalent) if sampled > equivalent else float("nan"))


def interval(killed: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval for the kill rate over all mutants, from a uniform sample."""
    from scipy.stats import beta
    a = (1 - level) / 2
    lo = beta.ppf(a, killed, n - killed + 1) if killed else 0.0
    hi = beta.ppf(1 - a, killed + 1, n - killed) if killed < n else 1.0
    return float(lo), float(hi)


def cell(text: str) -> str:
    """A change as a markdown table cell inside backticks."""
    return text.replace("|", "\\|").replace("`", "'")


def word_diff(old: str, new: str, context: int = 30) -> str:
    """old -> new as one line in git's word-diff style: `f([-conf-]{+None+}, pred)`."""
    p = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    q = 0
    while q < min(len(old), len(new)) - p and old[len(old) - 1 - q] == new[len(new) - 1 - q]:
        q += 1
    left = ("..." if p > context else "") + old[max(0, p - context):p]
    right = old[len(old) - q:][:context] + ("..." if q > context else "")
    removed, added = old[p:len(old) - q], new[p:len(new) - q]
    return (left + (f"[-{removed}-]" if removed else "") + (f"{{+{added}+}}" if added else "")
            + right)


def change(name: str, path: str) -> str:
    """The mutated code of a mutant, one short line for a table cell."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    try:
        diff = get_diff_for_mutant(name, path=path)
    except Exception as exc:  # the table still lists the mutant; `mutmut show` gives the diff
        return f"(no diff: {type(exc).__name__})"
    lines = diff.splitlines()
    old = " ".join(l[1:].strip() for l in lines if l.startswith("-") and not l.startswith("---"))
    new = " ".join(l[1:].strip() for l in lines if l.startswith("+") and not l.startswith("+++"))
    text = word_diff(old, new)
    return text if len(text) <= 160 else text[:157] + "..."


# --- commands -------------------------------------------------------------------------------

def stale_deselects() -> list[str]:
    """`--deselect` ids of [tool.mutmut] pytest_add_cli_args that no longer name a test."""
    import tomllib
    args = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"].get(
        "pytest_add_cli_args", [])
    stale = []
    for flag, node in zip(args, args[1:]):
        if flag == "--deselect":
            file, _, test = node.partition("::")
            test = test.partition("[")[0].rpartition("::")[2]
            source = ROOT / file
            if not source.is_file() or not re.search(rf"def {re.escape(test)}\b", source.read_text()):
                stale.append(node)
    return stale


def load_record() -> dict:
    if not RECORD.is_file():
        raise SampleError("no mutation sample in mutants/: run `make mutation-sample` first")
    return json.loads(RECORD.read_text())


def report(record: dict, status: dict[str, str]) -> None:
    rows = read_table(NOTE.read_text()) if NOTE.is_file() else {}
    verdicts, moved = verdicts_for(record["sample"], rows)
    s = score(status, verdicts)
    counts = Counter(status.values())
    lo, hi = interval(s["killed"], s["sampled"])
    print(f"\nmutation sample: {s['sampled']} of {record['population']} mutants of "
          f"{record['scope']} (seed {record['seed']}, commit {record.get('commit') or '?'})")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + "  (timeouts count as killed)")
    print(f"{'module':44s} {'killed':>6s} {'sampled':>7s} {'all':>6s}")
    for module in sorted({module_of(n) for n in status}):
        names = [n for n in status if module_of(n) == module]
        print(f"{module:44s} {sum(status[n] in KILLED for n in names):6d} {len(names):7d} "
              f"{record['by_module'].get(module, 0):6d}")
    print(f"raw score = killed / sampled = {s['killed']} / {s['sampled']} = {100 * s['raw']:.1f} %"
          f"  (95 % interval for all {record['population']}: {100 * lo:.1f}-{100 * hi:.1f} %)")
    print(f"score     = killed / (sampled - equivalent) = {s['killed']} / "
          f"({s['sampled']} - {s['equivalent']}) = {100 * s['score']:.1f} %"
          "  (equivalent: marked so in tests/MUTATION.md)")
    survivors = sorted(n for n, st in status.items() if st not in KILLED)
    unmarked = [n for n in survivors if not verdicts.get(n) or verdicts[n] == "open"]
    print(f"survivors ({len(survivors)}; {len(unmarked)} not yet marked in tests/MUTATION.md):")
    for n in survivors:
        print(f"  {status[n]:10s} {n}  [{verdicts.get(n) or 'open'}]")
    if moved:
        print(f"verdicts ignored, their mutant's change is no longer the one in tests/MUTATION.md "
              f"(rerun the note): {' '.join(moved)}")
    if survivors:
        print("diffs: mutmut show NAME; after a new test: mutmut run NAME ... then "
              "python .ci/mutation_sample.py score; table: python .ci/mutation_sample.py note")


def cmd_run(args) -> int:
    if args.sample < 1:
        raise SampleError(f"--sample must be a positive number of mutants, got {args.sample}")
    if args.workers < 1:
        raise SampleError(f"--workers must be at least 1, got {args.workers}")
    os.environ.setdefault("HYPOTHESIS_PROFILE", "mutation")
    for node in stale_deselects():
        print(f"warning: pyproject.toml [tool.mutmut] --deselect {node} names no test: "
              "update or drop it", file=sys.stderr)
    sys.path.insert(0, str(ROOT / "tests"))
    from mutation_scope import core_unit_tests
    tests = [str(p.relative_to(ROOT)) for p in core_unit_tests(ROOT / "tests")]
    print("core unit tests run against the mutants: " + " ".join(tests))
    t0 = time.perf_counter()
    paths = generate()
    in_scope = {n: p for n, p in paths.items() if fnmatch.fnmatch(p, args.scope)}
    if not in_scope:
        raise SampleError(f"no mutants in {args.scope}: check [tool.mutmut] only_mutate in pyproject.toml")
    sample = draw(list(in_scope), args.sample, args.seed)
    print(f"{len(in_scope)} mutants in {args.scope} (written in {time.perf_counter() - t0:.0f} s); "
          f"sample of {len(sample)} with seed {args.seed}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                            capture_output=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "littlebig_utils", "tests"],
                           cwd=ROOT, text=True, capture_output=True).stdout.strip()
    record = dict(scope=args.scope, seed=args.seed, requested=args.sample,
                  population=len(in_scope), commit=commit + ("+changes" if dirty else ""),
                  by_module=dict(Counter(module_of(n) for n in in_scope)),
                  mutmut=version("mutmut"), started=time.strftime("%Y-%m-%d %H:%M"),
                  sample={n: in_scope[n] for n in sample})
    RECORD.write_text(json.dumps(record, indent=1, ensure_ascii=False))
    t1 = time.perf_counter()
    mutmut = Path(sys.executable).with_name("mutmut")
    mutmut = mutmut if mutmut.is_file() else Path(shutil.which("mutmut") or "mutmut")
    done = subprocess.run([str(mutmut), "run", "--max-children", str(args.workers), *sample], cwd=ROOT)
    seconds = time.perf_counter() - t1
    status = statuses(record["sample"])
    record.update(seconds=round(seconds), status_at_run=status)
    RECORD.write_text(json.dumps(record, indent=1, ensure_ascii=False))
    report(record, status)
    print(f"mutmut run took {seconds:.0f} s for {len(sample)} mutants ({seconds / len(sample):.1f} s "
          f"per mutant, {args.workers} workers, including its stats and clean-test runs)")
    if done.returncode:
        raise SampleError(f"mutmut run exited with {done.returncode}: see its output above")
    if sum(st == "not checked" for st in status.values()):
        raise SampleError("some sampled mutants were not checked (interrupted?): run it again")
    return 0


def cmd_score(args) -> int:
    record = load_record()
    report(record, statuses(record["sample"]))
    return 0


def cmd_note(args) -> int:
    """Rewrite the survivors table of tests/MUTATION.md, keeping each mutant's verdict."""
    record = load_record()
    status = statuses(record["sample"])
    first = record.get("status_at_run", status)
    text = NOTE.read_text()
    if BEGIN not in text or END not in text:
        raise SampleError(f"tests/MUTATION.md has no survivors table: add the lines {BEGIN} and {END}")
    rows_before = read_table(text)
    verdicts, moved = verdicts_for(record["sample"], rows_before)
    names = sorted(n for n in record["sample"] if first[n] not in KILLED or status[n] not in KILLED)
    rows = []
    for n in names:
        verdict = verdicts.get(n, "open")
        if verdict == "open" and status[n] in KILLED:
            verdict = "killed later"
        rows.append(f"| `{n}` | `{cell(change(n, record['sample'][n]))}` | "
                    f"{first[n]} -> {status[n]} | {verdict} |")
    s = score(status, verdicts)
    head = (f"Sample of {s['sampled']} of {record['population']} mutants of `{record['scope']}`, "
            f"seed {record['seed']}, commit {record.get('commit')}, mutmut {record['mutmut']}, "
            f"run {record['started']}: killed {s['killed']}, equivalent {s['equivalent']}, "
            f"raw score {100 * s['raw']:.1f} %, score {100 * s['score']:.1f} %.")
    table = "\n".join([BEGIN, head, "", "| mutant | change | status (at run -> now) | verdict |",
                       "|---|---|---|---|", *rows, END])
    NOTE.write_text(text[:text.index(BEGIN)] + table + text[text.index(END) + len(END):])
    if moved:
        print(f"verdicts reset to open (the mutant's change is not the one they were written for): "
              + " ".join(moved))
    dropped = sorted(set(rows_before) - set(names))
    print(f"tests/MUTATION.md: {len(rows)} survivors listed, "
          f"{sum(r.endswith('| open |') for r in rows)} still open")
    if dropped:
        print(f"dropped {len(dropped)} rows not among this sample's survivors: " + " ".join(dropped))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="write the mutants, draw the sample, run it, print the score")
    run.add_argument("--sample", type=int, default=400, help="mutants to draw (default 400)")
    run.add_argument("--seed", type=int, default=0, help="random.Random seed (default 0)")
    run.add_argument("--workers", type=int, default=2, help="mutmut --max-children (default 2)")
    run.add_argument("--scope", default=SCOPE, help=f"source files sampled (default {SCOPE})")
    sub.add_parser("score", help="print the score of the last sample with the current statuses")
    sub.add_parser("note", help="write the survivors table of tests/MUTATION.md")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # mutmut works on ./mutants and reads ./pyproject.toml
    try:
        return {"run": cmd_run, "score": cmd_score, "note": cmd_note}[args.command](args)
    except SampleError as exc:
        print(f"mutation-sample: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
