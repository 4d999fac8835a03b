"""What every notebook does first: where its output goes, and one-line parameter errors.

A bad parameter (an unknown model name, a reversed pair) must stop the notebook with ONE line
that names the problem and the fix, not 25 lines of traceback through pandas. In IPython the
interpreter's ``sys.tracebacklimit`` is ignored, so `ParameterError` is registered with
``InteractiveShell.set_custom_exc``: the kernel then reports only ``ParameterError: <line>``
(papermill prints that line as the cell's error). Outside IPython it is an ordinary ValueError.
"""
from __future__ import annotations

from pathlib import Path

from .paths import results_dir

__all__ = ["ParameterError", "output_dir", "short_errors"]


class ParameterError(ValueError):
    """A notebook or command parameter is invalid; the message is the whole explanation."""


def output_dir(name: str, smoke: bool = False) -> Path:
    """The notebook's results folder; smoke runs go to results/smoke/<name>, so a test run never
    overwrites the book's full results."""
    if not name or "/" in name or "\\" in name or name in (".", "..", "smoke"):
        raise ParameterError(f"output folder name must be a plain name, got {name!r}")
    return results_dir("smoke", name) if smoke else results_dir(name)


def _one_line(shell, etype, value, tb, tb_offset=None):
    return [f"{etype.__name__}: {value}"]  # the structured traceback the kernel sends: one line


def short_errors(shell=None) -> bool:
    """Make `ParameterError` print as one line in the running IPython kernel (True if installed)."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    shell.set_custom_exc((ParameterError,), _one_line)
    return True


short_errors()  # importing this module in a notebook is enough
