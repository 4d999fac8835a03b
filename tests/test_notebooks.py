"""Every notebook runs through papermill in smoke mode, and the book builds from the results."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# The smoke runs are spread over the xdist workers; the book build (one worker) reuses them.
# Executed notebooks live in one folder shared by the workers of this session, and each is run
# once: a lock per notebook, and the book fixture walks them in reverse order so that it works
# alongside the smoke tests instead of waiting behind them.


@pytest.fixture(scope="session")
def executed_dir(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # basetemp is <session>/popen-gwN
        base = base.parent
    folder = base / "executed-notebooks"
    folder.mkdir(exist_ok=True)
    return folder


def execute(nb: Path, out_dir: Path) -> Path:
    """Smoke-run a notebook once per session (the book test reuses the result)."""
    import fcntl
    out = out_dir / nb.name
    with open(out_dir / f".{nb.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker running it: wait, then reuse
        if not out.is_file():
            _execute(nb, out)
    return out


def _execute(nb: Path, out: Path) -> None:
    import papermill as pm
    out_dir = out.parent
    tmp = out_dir / f".{nb.name}"
    # the kernel inherits this process's environment: conftest's MPLBACKEND=Agg would make
    # plt.show() and glued figures produce no image, and the smoke book would have none
    backend = os.environ.pop("MPLBACKEND", None)
    # the notebooks' results go to the session's temporary folder (beside the executed
    # notebooks), never to the repository's results/ (session fixtures run before conftest's)
    results = os.environ.get("LITTLEBIG_RESULTS_DIR")
    os.environ["LITTLEBIG_RESULTS_DIR"] = str(out_dir.parent / "results")
    try:
        pm.execute_notebook(str(nb), str(tmp), parameters={"smoke": True}, cwd=str(nb.parent),
                            kernel_name="python3", progress_bar=False)
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend
        if results is None:
            os.environ.pop("LITTLEBIG_RESULTS_DIR", None)
        else:
            os.environ["LITTLEBIG_RESULTS_DIR"] = results
    from littlebig_utils.book.notebook import hide_injected_parameters
    hide_injected_parameters(tmp)  # as `make book` does (littlebig_utils.book.notebook)
    tmp.rename(out)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_smoke(nb, executed_dir):
    import nbformat
    out = nbformat.read(execute(nb, executed_dir), as_version=4)
    errors = [o for c in out.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


def test_notebooks_are_committed_without_outputs():
    import nbformat
    for nb in NOTEBOOKS:
        cells = nbformat.read(nb, as_version=4).cells
        assert not any(c.get("outputs") for c in cells if c.cell_type == "code"), nb.name
        params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and "smoke" in params[0].source, nb.name


@pytest.fixture(scope="session")
def built_book(executed_dir, tmp_path_factory):
    """The book built (warnings are errors) from the smoke-executed notebooks."""
    for nb in reversed(NOTEBOOKS):
        execute(nb, executed_dir)
    book = tmp_path_factory.mktemp("site") / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "generated"))
    shutil.copytree(executed_dir, book / "generated", ignore=shutil.ignore_patterns(".*"))
    jb = Path(sys.executable).with_name("jupyter-book")
    r = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", str(book)],
                       capture_output=True, text=True)
    return book, r


@pytest.mark.xdist_group("book")
def test_book_builds_strictly(built_book):
    book, r = built_book
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for nb in NOTEBOOKS:
        assert (book / "_build" / "html" / "generated" / f"{nb.stem}.html").is_file()
    # math is served by the book itself
    assert (book / "_build" / "html" / "mathjax" / "tex-mml-chtml.js").is_file()


KNOWN_DEFECTS = Path(__file__).with_name("browser_known_defects.txt")


def category(problem: str) -> str:
    """A problem's kind: its text before the first ':' (the rest names the element)."""
    return problem.split(":", 1)[0].strip()


def known_defects() -> set[tuple[str, str]]:
    """(page, kind) pairs of tests/browser_known_defects.txt: defects found and not yet fixed,
    each listed with the issue that fixes it. The browser check fails on any other problem,
    and on a listed one that is gone (so the list only shrinks)."""
    out = set()
    for line in KNOWN_DEFECTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].rstrip()
        if line.strip():
            page, kind = line.split("\t", 1)
            out.add((page.strip(), kind.strip()))
    return out


@pytest.mark.xdist_group("book")
def test_every_page_in_a_real_browser(built_book, executed_dir):
    """Headless Chromium on localhost at 1400 and 390 px: no console errors, images load,
    internal links resolve, no request leaves the machine, no sideways scrolling on a phone,
    padded table cells, no raw LaTeX, tracebacks or build paths, descriptive alt text, the
    explorer agrees with the pair table; nothing wider than its box, no clipped caption, no raw
    repr or unrounded float, alt text only in alt, every figure and table numbered, figures open
    full size, exercise outputs only in collapsed solutions, one verdict per claim
    (tests/browser_check.py). Screenshots go to results/screenshots; the failure message lists
    each failing page with its problems, one per line."""
    from browser_check import check_site, find_chromium, report
    book, r = built_book
    assert r.returncode == 0, "book did not build"
    if find_chromium() is None:
        pytest.fail("chromium not found: `make browser` installs Debian's chromium package")
    # the smoke book's explorer is checked against the smoke pair table (results/smoke/, where
    # smoke runs write once the notebooks use littlebig_utils.book.notebook.output_dir)
    table = executed_dir.parent / "results" / "smoke" / "all_pairs" / "pairs.csv"
    assert table.is_file(), f"the smoke run of all_pairs wrote no pair table at {table}"
    problems = check_site(book / "_build" / "html", ROOT / "results" / "screenshots",
                          pairs_csv=table)
    assert len(problems) >= len(NOTEBOOKS) + 2  # the chapters, the introduction, references
    known = known_defects()
    bad = {page: [f for f in found if (page, category(f)) not in known]
           for page, found in problems.items()}
    bad = {page: found for page, found in bad.items() if found}
    seen = {(page, category(f)) for page, found in problems.items() for f in found}
    fixed = sorted(known - seen)
    assert not bad, f"{len(bad)} of {len(problems)} pages fail the browser check:\n" + report(bad)
    assert not fixed, ("known defects no longer found (remove them from "
                       f"tests/browser_known_defects.txt): {fixed}")
