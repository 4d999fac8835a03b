"""Where generated output goes: `$LITTLEBIG_RESULTS_DIR` or `results/` at the repository root."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def results_dir(*parts: str) -> Path:
    """Folder for one notebook's or command's output (created); git-ignored."""
    base = Path(os.environ.get("LITTLEBIG_RESULTS_DIR", REPO_ROOT / "results")).expanduser()
    out = base.joinpath(*parts)
    out.mkdir(parents=True, exist_ok=True)
    return out
