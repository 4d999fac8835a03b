"""Writing outputs safely: check the target before any work, then write it atomically.

Light on purpose (standard library only): the command line checks `--out` before it imports
numpy, pandas or torch, so that a bad path fails at once and nothing is computed for nothing.

Temporary files are named ``.<name>.littlebig-<host>-<pid>-<random>.tmp<suffix>`` beside their
target. A process killed with SIGKILL (or a machine that lost power) cannot remove its own; the
next `atomic_write` into the same folder removes those whose process is gone (same host, dead
pid), so they never pile up. SIGTERM is turned into an exception by the command line
(`terminate_as_exit`), so a terminated run cleans up like an interrupted one.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import socket
import stat
from pathlib import Path

__all__ = ["OutputError", "check_output", "atomic_write", "default_mode", "results_dir",
           "remove_stale_temps", "terminate_as_exit", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parent.parent

# this host, as a short tag without dots or dashes (a pid means nothing on another host)
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TEMP = re.compile(r"^\..+\.littlebig-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]+\.tmp")


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


def _inside(path: str, folder: str) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, top]) == top


def check_output(path, inputs=(), protected=()) -> Path:
    """Refuse an output path that would destroy something or cannot be written; return it.

    Refused: an empty path or one ending in a path separator (``newdir/`` names a folder, not
    a file), a symbolic link (its target would silently be replaced or the link broken),
    anything existing that is not a regular file (a directory, FIFO, device), an existing file
    without write permission (read-only says "keep me": we do not replace it), a path that is
    one of the `inputs` (through links too), a path that is or lies inside one of the
    `protected` paths (reference data: folders, or single files, through links and hard links
    too), and a missing or read-only parent folder. Call it before any work is done.
    """
    text = os.fspath(path)
    if not text:
        raise OutputError("the output path is empty; give a file name")
    if text.endswith(os.sep) or (os.altsep and text.endswith(os.altsep)):
        raise OutputError(f"output {text} ends in '{os.sep}', so it names a folder; give a file "
                          f"name (e.g. {text}table.csv)")
    p = Path(text)
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
    if st is not None and (not st.st_mode & stat.S_IWUSR or not os.access(p, os.W_OK)):
        raise OutputError(f"output {p} exists and is read-only (mode {stat.S_IMODE(st.st_mode):o}); "
                          f"make it writable (chmod u+w {p}) or write to another file")
    for inp in inputs:
        if inp is not None and os.path.exists(inp) and _same(text, os.fspath(inp)):
            raise OutputError(f"output {p} is also an input ({inp}); "
                              "write the output to another file")
    for ref in protected:
        ref = os.fspath(ref) if ref else ""
        if ref and (_inside(text, ref) or (st is not None and os.path.exists(ref)
                                           and _same(text, ref))):
            what = "the reference data folder" if os.path.isdir(ref) else "the reference file"
            raise OutputError(f"output {p} is or lies inside {what} {ref}, which is only "
                              "read; write the output elsewhere")
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


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale_temps(folder) -> list[Path]:
    """Remove this host's `atomic_write` temporaries in `folder` whose process is gone."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP.match(name)
        if m and m["host"] == _HOST and not _alive(int(m["pid"])):
            path = Path(folder) / name
            try:
                if path.is_file() and not path.is_symlink():
                    path.unlink()
                    removed.append(path)
            except OSError:
                pass
    return removed


class atomic_write:
    """Context manager yielding a temporary path beside `path`, renamed onto it on success.

    The temporary file lies in the same folder (so the rename is atomic), is named with this
    process's id (stale ones of dead processes are removed here), is flushed to disk before the
    rename, and gets the mode of the file it replaces, or for a new file the mode a normal
    open() would give (0o666 less the umask, not mkstemp's 0o600). On any failure,
    KeyboardInterrupt and SystemExit included, it is removed and the old file, if any, is left
    as it was.
    """

    def __init__(self, path: str | os.PathLike, suffix: str = ""):
        self.path = Path(path)
        self.suffix = suffix or self.path.suffix

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.path.parent)
        while True:
            tmp = self.path.parent / (f".{self.path.name}.littlebig-{_HOST}-{os.getpid()}-"
                                      f"{secrets.token_hex(4)}.tmp{self.suffix}")
            try:
                os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                break
            except FileExistsError:  # pragma: no cover - 32 random bits collided
                continue
        self.tmp = tmp
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
            try:
                mode = stat.S_IMODE(os.stat(self.path).st_mode)
            except FileNotFoundError:
                mode = default_mode()
            os.chmod(self.tmp, mode)
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


class terminate_as_exit:
    """Within the block, SIGTERM raises SystemExit(143) instead of killing the process at once,
    so that `atomic_write` (and every other ``finally``) cleans up. Main thread only; the old
    handler is restored on exit."""

    def __enter__(self):
        self.old = None
        try:
            self.old = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread: leave signals alone
            pass
        return self

    @staticmethod
    def _raise(signum, frame):
        raise SystemExit(128 + signum)

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)
        return False


def results_dir(*parts: str) -> Path:
    """Folder for one notebook's or command's output (created); git-ignored."""
    base = Path(os.environ.get("LITTLEBIG_RESULTS_DIR", REPO_ROOT / "results")).expanduser()
    out = base.joinpath(*parts)
    out.mkdir(parents=True, exist_ok=True)
    return out
