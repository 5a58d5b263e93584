"""Reader for IDX files (the MNIST format), gzip-compressed or not."""
import gzip
import os
import stat
import zlib

import numpy as np

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


# Deflate cannot expand data more than about 1032-fold: a header claiming more than that from a gzip file of a
# given size is a lie, refused before anything is inflated.
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20


def _open_regular(path):
    """Opens `path` for reading, refusing FIFOs, devices and folders up front (a FIFO would block forever,
    /dev/zero would be read until memory runs out). Returns (file, size in bytes)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as e:
        raise OSError(f"{path}: cannot read IDX file ({e})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file (an IDX file must be a plain file, not a FIFO, device or folder)")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), info.st_size


def _read_exactly(stream, n, path, what):
    """Reads n bytes in chunks (memory grows with the data actually there, never with what a header claims)."""
    parts, left = [], n
    while left > 0:
        part = stream.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    data = b"".join(parts)
    if len(data) < n:
        raise OSError(f"{path}: truncated IDX file: {len(data)} bytes of {what}, {n} expected")
    return data


def load(path):
    """Reads an IDX file into a NumPy array (uint8 for images and labels). Raises OSError for a missing,
    truncated or corrupt file, and for anything that is not a regular file. The header is checked before the
    data is read or inflated, and its sizes are bounded by the file's real size."""
    path = os.fspath(path)
    f, size = _open_regular(path)
    with f:
        try:
            compressed = f.read(2) == b"\x1f\x8b"
            f.seek(0)
            stream = gzip.GzipFile(fileobj=f) if compressed else f
            magic = _read_exactly(stream, 4, path, "header")
            if magic[0] != 0 or magic[1] != 0 or magic[2] not in _DTYPES:
                raise OSError(f"{path}: not an IDX file (bad magic number)")
            dtype = np.dtype(_DTYPES[magic[2]])
            ndim = magic[3]
            dims = _read_exactly(stream, 4 * ndim, path, "header")
            shape = tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(ndim))
            count = 1
            for d in shape:
                count *= d   # Python ints: no overflow
            expected = count * dtype.itemsize
            header = 4 + 4 * ndim
            limit = (size * _MAX_DEFLATE_RATIO) if compressed else max(size - header, 0)
            if expected > limit:
                raise OSError(f"{path}: truncated or corrupt IDX file: the header claims shape {shape} ({expected} "
                              f"bytes of data), more than a {'compressed ' if compressed else ''}file of {size} bytes can hold")
            data = _read_exactly(stream, expected, path, f"data for shape {shape}")
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            raise OSError(f"{path}: cannot read IDX file ({e})") from None
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape)
    return array.astype(dtype.newbyteorder("=")) if dtype.byteorder == ">" else array.copy()
