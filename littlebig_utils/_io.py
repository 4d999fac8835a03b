"""Writing outputs safely: check the target before any work, then write it atomically.

Light on purpose (standard library only): the command line checks `--out` before it imports
numpy, pandas or torch, so that a bad path fails at once and nothing is computed for nothing.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["OutputError", "check_output", "atomic_write", "default_mode", "results_dir", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parent.parent


class OutputError(ValueError):
    """An output path that must not be written; the message names the problem and the fix."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _same(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def check_output(path, inputs=(), protected=()) -> Path:
    """Refuse an output path that would destroy something or cannot be written; return it.

    Refused: a symbolic link (its target would silently be replaced or the link broken), anything
    existing that is not a regular file (a directory, FIFO, device), a path that is one of the
    `inputs` (through links too), a path inside one of the `protected` folders (reference data),
    and a missing or read-only parent folder. Call it before any work is done.
    """
    p = Path(path)
    if os.path.islink(p):
        raise OutputError(f"output {p} is a symbolic link (to {os.readlink(p)}); "
                          "give the path of a regular file instead")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"output {p} exists and is {_kind(st.st_mode)}; "
                          "give the path of a regular file instead")
    for inp in inputs:
        if inp is not None and os.path.exists(inp) and _same(str(p), str(inp)):
            raise OutputError(f"output {p} is also an input ({inp}); "
                              "write the output to another file")
    real = os.path.realpath(p)
    for folder in protected:
        if folder and os.path.commonpath([real, os.path.realpath(folder)]) == os.path.realpath(folder):
            raise OutputError(f"output {p} lies inside the reference data folder {folder}, "
                              "which is only read; write the output elsewhere")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"the folder of output {p} does not exist ({parent}); "
                          f"create it first (mkdir -p {parent})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"the folder of output {p} is read-only ({parent}); "
                          "write the output to a folder you can write to")
    return p


def default_mode() -> int:
    """0o666 less the process umask: the mode a plain open() would give a new file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


class atomic_write:
    """Context manager yielding a temporary path beside `path`, renamed onto it on success.

    The temporary file lies in the same folder (so the rename is atomic), is flushed to disk
    before the rename and gets the mode a normal open() would give (0o666 less the umask, not
    mkstemp's 0o600). On any failure, KeyboardInterrupt included, it is removed and the old
    file, if any, is left as it was.
    """

    def __init__(self, path: str | os.PathLike, suffix: str = ""):
        self.path = Path(path)
        self.suffix = suffix or self.path.suffix

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                   suffix=".tmp" + self.suffix)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return False
        try:
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(self.tmp, default_mode())
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        try:  # make the rename itself durable
            dfd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return False
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)
        return False

def results_dir(*parts: str) -> Path:
    """Folder for one notebook's or command's output (created); git-ignored."""
    base = Path(os.environ.get("LITTLEBIG_RESULTS_DIR", REPO_ROOT / "results")).expanduser()
    out = base.joinpath(*parts)
    out.mkdir(parents=True, exist_ok=True)
    return out
