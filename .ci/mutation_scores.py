"""Mutation score per module from `mutmut results --all true` (read on stdin).

    mutmut results --all true | python .ci/mutation_scores.py

Score = killed / checked mutants, per mutated module (`make mutation`: every module of
littlebig_utils/core). As in `make mutation-sample` (tests/MUTATION.md), a timeout counts as
killed; other statuses (survived, no tests, suspicious, ...) count as not killed. Mutants not
run ("not checked") are left out of the score and counted.
"""
import re
import sys
from collections import Counter, defaultdict

LINE = re.compile(r"^\s*(?P<name>[\w.]+?)__mutmut_\d+: (?P<status>.+?)\s*$")


def main(lines) -> int:
    counts: dict[str, Counter] = defaultdict(Counter)
    for line in lines:
        m = LINE.match(line)
        if m:
            counts[m["name"].rpartition(".")[0]][m["status"]] += 1
    if not counts:
        print("no mutants found: run `make mutation` (mutmut run) first", file=sys.stderr)
        return 1
    print(f"{'module':40s} {'killed':>7s} {'checked':>8s} {'score':>7s}  not killed / not checked")
    for module in sorted(counts):
        c = counts[module]
        unchecked = c.pop("not checked", 0)
        total, killed = sum(c.values()), c["killed"] + c["timeout"]
        if not total:
            continue
        other = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in ("killed", "timeout"))
        print(f"{module:40s} {killed:7d} {total:8d} {100 * killed / total:6.1f}%  "
              f"{other or '-'} / {unchecked}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.stdin))
