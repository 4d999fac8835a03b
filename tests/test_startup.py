"""Fresh-process start: importing the package and loading reference predictions needs no torch.

Reading two reference models used to import torch and timm and count the GMACs of 13 timm
architectures (about 10 s in a fresh process); GMACs now come from the committed table.
benchmarks/bench_startup.py prints the timings; here only a loose bound guards against the
old path coming back (the machine running the tests may be busy).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fresh(code: str) -> dict:
    """Run `code` in a new interpreter; it leaves its results in the dict `out`."""
    prog = ("import json, sys, time\nt0 = time.perf_counter()\nout = {}\n" + code
            + "\nout['seconds'] = time.perf_counter() - t0"
            + "\nout['modules'] = sorted(m for m in ('torch', 'timm', 'matplotlib', 'pandas', 'scipy')"
            + " if m in sys.modules)\nprint(json.dumps(out))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_import_alone_loads_nothing_heavy():
    out = fresh("import littlebig_utils")
    assert out["modules"] == []


def test_load_two_reference_models_imports_no_torch():
    out = fresh("from littlebig_utils import load\n"
                "r = load('imagenet-val', ['resnet34', 'densenet161'])\n"
                "out['gmacs'] = [p.model['gmacs'] for p in r.values()]")
    assert out["modules"] == []  # no torch, timm, pandas or scipy: numpy reads the files
    assert out["gmacs"] == [3.663761408, 7.727907072]
    assert out["seconds"] < 5  # the old path took about 10 s


def test_readme_example_imports_no_torch():
    block = (ROOT / "README.md").read_text().split("```python\n", 1)[1].split("```", 1)[0]
    out = fresh(block + "out['threshold'] = casc.threshold_")
    assert "torch" not in out["modules"] and "timm" not in out["modules"]
    assert 0 < out["threshold"] < 1 and out["seconds"] < 8


def test_cifar10_reference_predictions_import_no_torch():
    out = fresh("import littlebig_utils\nr = littlebig_utils.load('cifar10-test')\n"
                "out['gmacs'] = r['resnet110'].model['gmacs']")
    assert out["modules"] == [] and out["gmacs"] > 0


def test_the_data_layer_itself_imports_no_pandas_or_scipy():
    """The data layer reads prediction files with numpy alone; pandas only for timm's tables
    (`littlebig models`)."""
    out = fresh("import littlebig_utils.data.reference, littlebig_utils.data.registry\n"
                "from littlebig_utils.data import DATASETS")
    assert out["modules"] == []
