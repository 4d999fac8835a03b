"""transfer_real fills its second-dataset columns from user-supplied Predictions files."""
import numpy as np
import pandas as pd
import pytest

from littlebig_utils.core.predictions import Predictions, align

pytestmark = pytest.mark.xdist_group("notebooks")

MODELS = {"mobilenetv3_large_100": 0.70, "mixnet_m": 0.72, "resnet101": 0.78}


def synthetic_second_dataset(folder, n=2000, seed=0):
    """Predictions of three reference models on 2,000 made-up images (like `littlebig predict`)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 1000, n)
    ids = [f"v2_{i:05d}" for i in range(n)]
    hard = rng.uniform(size=n)
    out = {}
    for k, (name, skill) in enumerate(MODELS.items()):
        right = rng.uniform(size=n) < np.clip(skill + 0.6 * (0.5 - hard), 0, 1)
        conf = np.clip(0.55 * right + 0.45 * rng.uniform(size=n), 0, 1)
        p = Predictions(ids, labels, np.where(right, labels, (labels + 1) % 1000), conf,
                        model={"name": name}, dataset="synthetic-v2")
        if k == 1:
            p = p.subset(np.arange(n)[::-1])  # another sample order: the notebook must align
        p.save(folder / f"{name}.npz")
        out[name] = p
    return out


def test_transfer_notebook_with_second_dataset(tmp_path):
    import os
    import papermill as pm
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    folder = tmp_path / "v2"
    folder.mkdir()
    second = synthetic_second_dataset(folder)
    nb_out = tmp_path / "transfer_real.ipynb"
    pm.execute_notebook(str(root / "notebooks" / "transfer_real.ipynb"), str(nb_out),
                        parameters={"smoke": True, "second_dir": str(folder),
                                    "second_name": "synthetic V2"},
                        cwd=str(root / "notebooks"), kernel_name="python3", progress_bar=False)
    # a smoke run writes under results/smoke/; the chapter transfers its meaningful pairs
    table = pd.read_csv(Path(os.environ["LITTLEBIG_RESULTS_DIR"]) / "smoke" / "transfer_real" /
                        "transfer_second.csv")
    names = set(MODELS)
    assert len(table) >= 1 and set(table["little"]) | set(table["big"]) <= names
    for _, r in table.iterrows():
        little, big = align(second[r["little"]], second[r["big"]])
        to_big = little.conf < r["threshold"]
        acc = np.where(to_big, big.correct, little.correct).mean()
        # cascade - big on the second dataset, computed there (not copied from ImageNet); a
        # fraction in the CSV like every machine output
        assert r["accuracy_change"] == pytest.approx(acc - big.accuracy)
        assert r["frac_big"] == pytest.approx(to_big.mean())
