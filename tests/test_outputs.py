"""Outputs: refused before any work when writing would destroy something, written atomically."""
import os
import stat

import pytest

from littlebig_utils._io import OutputError, atomic_write, check_output, default_mode


@pytest.fixture
def umask():
    """Set a umask for one test and restore the old one."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda m: os.umask(m)
    os.umask(old)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


# ------------------------------------------------------------------ atomic_write

@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_atomic_write_gives_the_mode_of_a_normal_open(tmp_path, umask, mask):
    umask(mask)
    target = tmp_path / "out.csv"
    with atomic_write(target) as tmp:
        tmp.write_text("a\n1\n")
    assert target.read_text() == "a\n1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask == default_mode()
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert stat.S_IMODE(plain.stat().st_mode) == stat.S_IMODE(target.stat().st_mode)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path, error):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(error):
        with atomic_write(target) as tmp:
            tmp.write_text("half-writ")
            raise error("interrupted")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_write_failed_rename_leaves_no_temp(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep").write_text("x")  # a non-empty directory cannot be replaced by a file
    with pytest.raises(OSError):
        with atomic_write(target, suffix=".csv") as tmp:
            tmp.write_text("data")
    assert leftovers(tmp_path) == [] and (target / "keep").read_text() == "x"


# ------------------------------------------------------------------ check_output

def test_new_and_existing_regular_files_are_accepted(tmp_path):
    assert check_output(tmp_path / "new.csv") == tmp_path / "new.csv"
    (tmp_path / "old.csv").write_text("x")
    check_output(tmp_path / "old.csv")


def test_an_input_is_refused_by_any_path(tmp_path):
    src = tmp_path / "a.npz"
    src.write_bytes(b"data")
    (tmp_path / "sub").mkdir()
    os.link(src, tmp_path / "hard.npz")
    for out in (src, tmp_path / "sub" / ".." / "a.npz", tmp_path / "hard.npz"):
        with pytest.raises(OutputError, match="is also an input"):
            check_output(out, inputs=[str(src)])
    check_output(tmp_path / "b.npz", inputs=[str(src)])


def test_symlinks_are_refused_even_dangling(tmp_path):
    (tmp_path / "target").write_text("precious")
    os.symlink(tmp_path / "target", tmp_path / "link")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    for out in ("link", "dangling"):
        with pytest.raises(OutputError, match="symbolic link"):
            check_output(tmp_path / out)
    assert (tmp_path / "target").read_text() == "precious"


def test_fifo_directory_and_device_are_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for out, what in ((tmp_path / "fifo", "FIFO"), (tmp_path / "dir", "directory"),
                      ("/dev/null", "character device")):
        with pytest.raises(OutputError, match=what):
            check_output(out)


def test_missing_parent_is_refused(tmp_path):
    with pytest.raises(OutputError, match="does not exist.*mkdir -p"):
        check_output(tmp_path / "no" / "such" / "out.csv")


def test_read_only_parent_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: simulate what os.access says to a user
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(folder) else real(p, m))
    else:
        folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="read-only"):
            check_output(folder / "out.csv")
    finally:
        folder.chmod(0o755)


def test_output_inside_a_protected_folder_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(OutputError, match="reference data folder"):
        check_output(data / "x.csv", protected=[str(data)])
    check_output(tmp_path / "x.csv", protected=[str(data)])


def test_errors_are_one_line(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OutputError) as e:
        check_output(tmp_path / "fifo")
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------ issue 17: outputs

@pytest.mark.parametrize("path", ["newdir/", "a/b/", ""])
def test_a_path_naming_a_folder_or_nothing_is_refused(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="names a folder|empty"):
        check_output(path)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_file_is_refused_and_a_writable_one_keeps_its_mode(tmp_path, umask):
    ro = tmp_path / "ro.csv"
    ro.write_text("keep")
    ro.chmod(0o444)
    with pytest.raises(OutputError, match=r"read-only \(mode 444\).*chmod u\+w"):
        check_output(ro)
    umask(0o022)
    private = tmp_path / "private.csv"
    private.write_text("old")
    private.chmod(0o600)
    with atomic_write(private) as tmp:
        tmp.write_text("new")
    assert private.read_text() == "new" and stat.S_IMODE(private.stat().st_mode) == 0o600


def test_protected_files_are_refused_through_hard_links(tmp_path):
    ref = tmp_path / "ref" / "model.csv"
    ref.parent.mkdir()
    ref.write_text("reference")
    os.link(ref, tmp_path / "copy.csv")
    for out in (ref, tmp_path / "copy.csv", tmp_path / "ref" / "new.csv"):
        with pytest.raises(OutputError, match="reference"):
            check_output(out, protected=[str(ref), str(ref.parent)])
    check_output(tmp_path / "elsewhere.csv", protected=[str(ref)])


def _temp_name(target: str, pid: int, host: str | None = None) -> str:
    from littlebig_utils import _io
    return f".{target}.littlebig-{host or _io._HOST}-{pid}-0a1b2c3d.tmp.csv"


def _dead_pid() -> int:
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temps_are_named_with_the_pid_and_stale_ones_are_removed(tmp_path):
    dead = _dead_pid()
    stale = tmp_path / _temp_name("out.csv", dead)
    live = tmp_path / _temp_name("out.csv", os.getppid())
    foreign = tmp_path / _temp_name("out.csv", dead, host="deadbeef")
    user = tmp_path / ".out.csv.tmp.csv"  # not ours: never touched
    for p in (stale, live, foreign, user):
        p.write_text("x")
    with atomic_write(tmp_path / "out.csv") as tmp:
        assert f"-{os.getpid()}-" in tmp.name and not stale.exists()
        tmp.write_text("data")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.csv", live.name, foreign.name, user.name])


def test_sigterm_inside_terminate_as_exit_cleans_up(tmp_path):
    import signal
    from littlebig_utils._io import terminate_as_exit
    target = tmp_path / "out.csv"
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as e:
        with terminate_as_exit(), atomic_write(target) as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
    assert e.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == [] and signal.getsignal(signal.SIGTERM) is before
