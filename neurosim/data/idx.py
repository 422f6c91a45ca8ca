"""Reader of IDX files, the format MNIST ships in (http://yann.lecun.com/exdb/mnist/).

Layout: a 4-byte magic ``00 00 TT NN`` (``TT`` the element type, ``NN`` the number of dimensions), then ``NN``
big-endian uint32 sizes, then the elements in C order. Only type ``0x08`` (unsigned byte) is supported: it is the
type of every MNIST-family file. The file is validated completely, so a damaged download fails here with the file
named, not later as a shape error inside a model. At most :data:`MAX_IDX_BYTES` are read (or inflated from gzip).
"""

from __future__ import annotations

import errno
import gzip
import io
import math
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"
#: largest IDX content read, after decompression (bytes): MNIST's largest file is 47 MB, EMNIST's about 550 MB;
#: checked before the data is read or inflated further
MAX_IDX_BYTES = 2 ** 30
_UBYTE = 0x08
# The other codes the format defines, named in the error so a user knows what they have.
_OTHER_TYPES = {0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}


def path_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable regular file (``"not found"``, ``"is a directory"``, a name too long, a NUL
    character, a symlink loop, a device or pipe), or None. Never raises."""
    try:
        mode = os.stat(path).st_mode
    except ValueError:  # os.stat refuses NUL characters before asking the system
        return "the path contains a NUL character"
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return "not found"
        if exc.errno == errno.ENAMETOOLONG:
            return "file name too long for the file system"
        if exc.errno == errno.ELOOP:
            return "too many levels of symbolic links (a symlink loop?)"
        return exc.strerror or str(exc)
    if stat.S_ISDIR(mode):
        return "is a directory"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, pipe or socket)"
    return None


def _read_bytes(path: Path) -> bytes:
    problem = path_problem(path)
    if problem == "not found":
        raise DataError(f"{path}: IDX file not found")
    if problem is not None:
        raise DataError(f"{path}: cannot read IDX file: {problem}")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_IDX_BYTES + 1)  # one byte more tells an over-large file without reading it all
    except OSError as exc:
        raise DataError(f"{path}: cannot read IDX file: {exc.strerror or exc}") from None
    if len(raw) > MAX_IDX_BYTES:
        raise DataError(f"{path}: IDX file larger than {MAX_IDX_BYTES} bytes (2**30), the most neurosim reads")
    # Sniff the content rather than trust the suffix: an IDX magic starts with 00 00, a gzip stream with 1f 8b.
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            data = stream.read(MAX_IDX_BYTES + 1)  # a small gzip file may inflate to gigabytes: stop at the limit
    except EOFError:
        raise DataError(f"{path}: truncated gzip stream (the download is probably incomplete)") from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip stream: {exc}") from None
    if len(data) > MAX_IDX_BYTES:
        raise DataError(f"{path}: gzip stream inflates to more than {MAX_IDX_BYTES} bytes (2**30), the most "
                        "neurosim reads")
    return data


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed) into an array.

    Parameters
    ----------
    path : str or Path
        The file. Gzip compression is detected from the content, so ``.gz`` and plain files both work whatever
        their names.

    Returns
    -------
    ndarray of uint8
        Read-only, of the shape the header declares (e.g. ``(10000, 28, 28)`` for MNIST test images,
        ``(10000,)`` for its labels).

    Raises
    ------
    DataError
        Naming the file: missing or unreadable file (or not a regular file), larger than :data:`MAX_IDX_BYTES`
        (plain or inflated), corrupt gzip stream, magic not starting with ``00 00``,
        element type other than ``0x08`` (unsigned byte), zero dimensions, header or data shorter than the
        header declares, or bytes after the declared data.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX header: {len(data)} bytes, the magic number alone needs 4")
    magic = int.from_bytes(data[:4], "big")
    if data[:2] != b"\x00\x00":
        raise DataError(f"{path}: not an IDX file: magic number 0x{magic:08x} must start with 0x0000")
    type_code, ndims = data[2], data[3]
    if type_code != _UBYTE:
        kind = _OTHER_TYPES.get(type_code, "unknown")
        raise DataError(f"{path}: unsupported IDX element type 0x{type_code:02x} ({kind}) in magic number "
                        f"0x{magic:08x}; only 0x08 (unsigned byte) is supported")
    if ndims == 0:
        raise DataError(f"{path}: IDX magic number 0x{magic:08x} declares 0 dimensions; expected >= 1")
    header = 4 + 4 * ndims
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header: {ndims} dimensions need {header} header bytes, "
                        f"the file has {len(data)}")
    dims = struct.unpack(f">{ndims}I", data[4:header])
    expected = math.prod(dims)
    present = len(data) - header
    if present < expected:
        raise DataError(f"{path}: truncated IDX data: shape {dims} needs {expected} data bytes, "
                        f"the file has {present}")
    if present > expected:
        raise DataError(f"{path}: {present - expected} trailing bytes after the {expected} data bytes "
                        f"that shape {dims} declares")
    array = np.frombuffer(data, dtype=np.uint8, count=expected, offset=header).reshape(dims)
    array.flags.writeable = False  # frombuffer over bytes is read-only already; say so explicitly
    return array
