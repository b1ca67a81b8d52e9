"""Just enough of the NumPy ``.npy`` format (version 1.0, little-endian float64 or float32, C
order) to write loss and gradient matrices without NumPy, a row at a time."""

import os
import struct
import sys
from array import array

MAGIC = b"\x93NUMPY\x01\x00"
# Bytes reserved for the magic string, the header length and the header dictionary. The shape
# is only known when the last row is in, so the header is written twice: a placeholder first,
# the real one (padded to the same length) at the end. 128 bytes hold any 2-D shape of 64-bit
# dimensions; a multiple of 64 keeps the data aligned as NumPy wants.
HEADER_BYTES = 128

DTYPES = {"float64": ("<f8", "d", 8), "float32": ("<f4", "f", 4)}


def header(descr, shape):
    """The full header (magic, length, dictionary, padding) for `shape`, HEADER_BYTES long."""
    dims = ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "")
    text = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    room = HEADER_BYTES - len(MAGIC) - 2 - 1          # -1: the closing newline
    if len(text) > room:
        raise ValueError("shape %r does not fit a .npy header" % (tuple(shape),))
    text = text + " " * (room - len(text)) + "\n"
    return MAGIC + struct.pack("<H", len(text)) + text.encode("latin1")


def check_dtype(dtype):
    """'float64' or 'float32' (NumPy dtypes and their names accepted too)."""
    name = getattr(dtype, "name", None) or getattr(dtype, "__name__", None) or str(dtype)
    name = {"f8": "float64", "<f8": "float64", "double": "float64", "float": "float64",
            "f4": "float32", "<f4": "float32", "single": "float32"}.get(name, name)
    if name not in DTYPES:
        raise ValueError("dtype must be float64 or float32, found %r" % (dtype,))
    return name


class RowWriter:
    """Streams a 2-D matrix to ``path`` row by row: the data go to ``path + '.partial'``, which
    replaces ``path`` only in :meth:`finish`, so an interrupted writer leaves no ``path``."""

    def __init__(self, path, columns, dtype="float64"):
        self.path = os.fspath(path)
        self.partial = self.path + ".partial"
        self.columns = int(columns)
        self.dtype = check_dtype(dtype)
        self.descr, self.code, self.itemsize = DTYPES[self.dtype]
        self.rows = 0
        self.file = open(self.partial, "wb")
        self.file.write(header(self.descr, (0, self.columns)))

    def append(self, values):
        """One row: a sequence of `columns` floats (NaN allowed)."""
        row = array(self.code, values)
        if len(row) != self.columns:
            raise ValueError("a row of %d values for %d columns" % (len(row), self.columns))
        if sys.byteorder == "big":
            row.byteswap()
        row.tofile(self.file)
        self.rows += 1

    def append_bytes(self, data, rows):
        """`rows` rows already in little-endian bytes of this dtype (e.g. ``ndarray.tobytes()``)."""
        if len(data) != rows * self.columns * self.itemsize:
            raise ValueError("%d bytes for %d rows of %d %s values" % (len(data), rows, self.columns, self.dtype))
        self.file.write(data)
        self.rows += rows

    def finish(self):
        """Writes the real header, flushes to disk and renames the file into place."""
        self.file.seek(0)
        self.file.write(header(self.descr, (self.rows, self.columns)))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.partial, self.path)

    def abort(self):
        """Closes and deletes the partial file."""
        if not self.file.closed:
            self.file.close()
        try:
            os.remove(self.partial)
        except FileNotFoundError:
            pass
