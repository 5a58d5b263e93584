"""Files written whole or not at all, and files read only when they are regular files.

Every format swiftcnn writes from Python (Keras archives, Keras HDF5, ONNX) goes through `write_atomically`: the
bytes go to a temporary file in the target folder (created exclusively, named like the engine's temporaries so
that each removes what a killed save of the other left), which is fsynced and renamed over the target; the folder
is fsynced too, so after a crash the target is the old file or the new one. The mode follows the umask.
(The engine's own format is written the same way by the engine.)"""
import os
import secrets
import stat

__all__ = ["write_atomically", "remove_stale_temporaries", "leading_bytes", "check_regular_file"]


TEMPORARY_MARKER = ".swiftcnn-tmp."     # `.<target>.swiftcnn-tmp.<pid>.<random>`, the engine's naming too


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder):
    """Removes the temporaries that saves of processes which no longer exist (killed mid-save) left in `folder`."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        parts = name.split(".")
        if not name.startswith(".") or len(parts) < 5 or parts[-3] != "swiftcnn-tmp" or not parts[-2].isdigit():
            continue
        if not _process_exists(int(parts[-2])):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def write_atomically(path, write):
    """Calls `write(temporary_path)` and moves the finished file to `path`; on any error no file is left behind
    and an existing `path` is untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    remove_stale_temporaries(folder)
    tmp = os.path.join(folder, f".{os.path.basename(path)}{TEMPORARY_MARKER}{os.getpid()}.{secrets.token_hex(8)}")
    # Created exclusively and never through a link; the mode follows the umask like any other new file.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666))
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
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
