"""HDF5 helpers: atomic writes, versioned files, clear errors on bad files."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from neurochip.errors import FileFormatError

FORMAT_VERSION = 1


def atomic_write(path, kind: str, writer) -> Path:
    """Write an HDF5 file through ``writer(h5file)``: to a temporary file, then rename.

    A crash or error leaves either the old file or none, never a half-written one.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["neurochip_kind"] = kind
            f.attrs["format_version"] = FORMAT_VERSION
            writer(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _open(path):
    """An HDF5 file open for reading; anything but a missing file becomes a FileFormatError."""
    import h5py

    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FileFormatError(f"{path}: not a readable HDF5 file ({exc})") from exc


@contextmanager
def open_read(path, kind: str):
    """Open a neurochip HDF5 file of ``kind`` for reading, checking kind and version."""
    path = Path(path)
    f = _open(path)
    try:
        got = f.attrs.get("neurochip_kind")
        if got != kind:
            raise FileFormatError(f"{path}: expected a neurochip {kind} file, found {got!r}")
        version = int(f.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise FileFormatError(
                f"{path}: format version {version}; this neurochip reads version {FORMAT_VERSION}"
            )
        try:
            yield f
        except (KeyError, ValueError) as exc:
            raise FileFormatError(f"{path}: incomplete or corrupt {kind} file ({exc})") from exc
    finally:
        f.close()


def kind_of(path) -> str | None:
    """The neurochip kind of an HDF5 file (None for another HDF5 file)."""
    with _open(path) as f:
        kind = f.attrs.get("neurochip_kind")
    return None if kind is None else str(kind)


def put_json(group, name: str, obj) -> None:
    group.attrs[name] = json.dumps(obj)


def get_json(group, name: str):
    return json.loads(group.attrs[name])
