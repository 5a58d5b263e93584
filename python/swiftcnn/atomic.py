"""Files written whole or not at all, and files read only when they are regular files.

Every format swiftcnn writes from Python (Keras archives, Keras HDF5, ONNX) goes through `write_atomically`: the
bytes go to a temporary file in the target folder, which is fsynced, given the mode the umask allows and renamed
over the target; the folder is fsynced too, so after a crash the target is the old file or the new one. (The
engine's own format is written the same way by the engine.)"""
import os
import stat
import tempfile

__all__ = ["write_atomically", "leading_bytes", "check_regular_file"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path, write):
    """Calls `write(temporary_path)` and moves the finished file to `path`; on any error no file is left behind
    and an existing `path` is untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".swiftcnn-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; a saved file follows the umask like any other
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def leading_bytes(path, count=8):
    """The first bytes of a regular file; anything else (a FIFO, a device, a folder) is refused without blocking.
    A missing file is FileNotFoundError."""
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise type(e)(e.errno, f"cannot read {path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"cannot read {path}: not a regular file")
        return os.read(fd, count)
    finally:
        os.close(fd)


def check_regular_file(path):
    leading_bytes(path, 0)
    return os.fspath(path)
