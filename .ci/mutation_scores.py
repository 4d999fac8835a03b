"""Mutation score per module from `mutmut results --all true` (read on stdin).

    mutmut results --all true | python .ci/mutation_scores.py

Score = killed / (all mutants that ran), per mutated module; runtime.summarize is listed on its
own (only it of runtime.py is in the scope of the mutation run; the rest of runtime.py is the
executor, tested for behaviour on real models). Mutants mutmut could not run (no tests, skipped,
suspicious, timeout) are counted and listed by status, not as killed.
"""
import re
import sys
from collections import Counter, defaultdict

LINE = re.compile(r"^\s*(?P<name>[\w.]+?)__mutmut_\d+: (?P<status>.+?)\s*$")


def scope(mutant: str) -> str:
    module, _, func = mutant.rpartition(".")
    if module.endswith(".runtime") and func.removeprefix("x_").startswith("summarize"):
        return module + ".summarize"
    return module


def main(lines) -> int:
    counts: dict[str, Counter] = defaultdict(Counter)
    for line in lines:
        m = LINE.match(line)
        if m:
            counts[scope(m["name"])][m["status"]] += 1
    if not counts:
        print("no mutants found: run `make mutation` (mutmut run) first", file=sys.stderr)
        return 1
    print(f"{'module':45s} {'killed':>7s} {'total':>6s} {'score':>7s}  other")
    for module in sorted(counts):
        c = counts[module]
        total, killed = sum(c.values()), c["killed"]
        other = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k != "killed")
        print(f"{module:45s} {killed:7d} {total:6d} {100 * killed / total:6.1f}%  {other}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.stdin))
