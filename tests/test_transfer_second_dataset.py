"""transfer_real fills its second-dataset columns from user-supplied Predictions files."""
import numpy as np
import pandas as pd
import pytest

from littlebig_utils.predictions import Predictions, align

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
    table = pd.read_csv(Path(os.environ["LITTLEBIG_RESULTS_DIR"]) / "transfer_real" /
                        "transfer_all_pairs.csv")
    filled = table[table["second_change"].notna()]
    # every pair of the three supplied models with a threshold on ImageNet, and no other pair
    names = set(MODELS)
    expect = table[table["little"].isin(names) & table["big"].isin(names) & table["threshold"].notna()]
    assert len(filled) == len(expect) >= 1
    for _, r in filled.iterrows():
        little, big = align(second[r["little"]], second[r["big"]])
        to_big = little.conf < r["threshold"]
        acc = 100 * np.where(to_big, big.correct, little.correct).mean()
        assert r["second_change"] == pytest.approx(acc - 100 * big.accuracy)
        gmacs = r["little_gmacs"] + to_big.mean() * r["big_gmacs"]
        assert r["second_macs_reduction"] == pytest.approx(100 * (1 - gmacs / r["big_gmacs"]))
    # the routing differs from ImageNet's: the column is computed, not copied
    assert not np.allclose(filled["second_macs_reduction"], filled["macs_reduction"])
