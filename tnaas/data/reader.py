"""The one bounded file reader: every file TNaaS reads from disk goes through `read_file`.

Only regular files are read (a device, a FIFO, a socket or a directory is refused before it
is opened, and again after opening, so a file swapped in between is refused too), and never
more than `limit + 1` bytes, whatever size the file claims: `/dev/zero` or `/proc` files
report a size of 0, and a file may grow while it is read.
"""

from __future__ import annotations

import os
import stat

from tnaas.errors import TnaasError

# O_NONBLOCK: opening a FIFO (swapped in after the check) returns at once instead of waiting
# for a writer; it changes nothing for regular files. O_NOCTTY: a terminal never becomes ours.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK = 1 << 20  # bytes per os.read call


class FileMissing(TnaasError):
    """The path names no file (the caller may know a better message, e.g. bundled names)."""


def format_size(n: int) -> str:
    """`n` bytes for a message: "40 bytes", "1.5 KB", "25 MB" (1 KB = 1024 bytes, as the app says)."""
    if n < 1024:
        return f"{n:,} byte{'' if n == 1 else 's'}"
    units = ("KB", "MB", "GB", "TB", "PB")
    power = 1
    while power < len(units) and round(n / 1024**power, 1) >= 1024:
        power += 1
    value = n / 1024**power
    text = f"{value:,.0f}" if value >= 100 or round(value, 1).is_integer() else f"{value:.1f}"
    return f"{text} {units[power - 1]}"


def too_large(label: str, size: int, limit: int) -> TnaasError:
    """The one-line error for `size` bytes over `limit` (never "25 MB; the limit is 25 MB")."""
    if format_size(size) == format_size(limit):
        return TnaasError(f"{label} is larger than the limit of {format_size(limit)}")
    return TnaasError(f"{label} is {format_size(size)}; the limit is {format_size(limit)}")


def _kind_of(mode: int) -> str | None:
    """None for a regular file, else what it is, for the message."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check(info: os.stat_result, label: str, limit: int) -> None:
    kind = _kind_of(info.st_mode)
    if kind == "a directory":
        raise TnaasError(f"{label!r} is a directory; give a .txt, .csv or .tsv file")
    if kind is not None:
        raise TnaasError(f"{label!r} is {kind}, not a regular file; give a .txt, .csv or .tsv file")
    if info.st_size > limit:
        raise too_large(label, info.st_size, limit)


def _os_error(error: OSError, label: str) -> TnaasError:
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return FileMissing(f"no such file {label!r}")
    if isinstance(error, PermissionError):
        return TnaasError(f"cannot read {label!r}: permission denied")
    return TnaasError(f"cannot read {label!r}: {error.strerror or type(error).__name__}")


def read_file(path: str | os.PathLike, limit: int, label: str | None = None) -> bytes:
    """The bytes of the regular file at `path` (symlinks followed), at most `limit` of them.

    Raises `FileMissing` when nothing is there and `TnaasError` (one line, naming `label`,
    default the path as given) for a directory, a device, a FIFO or a socket, an
    unreadable file, or more than `limit` bytes (claimed by its size, or actually read: at
    most `limit + 1` bytes are ever read).
    """
    label = os.fspath(path) if label is None else label
    try:
        _check(os.stat(path), label, limit)  # before opening: a FIFO or device is never opened
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise _os_error(error, label) from None
    try:
        _check(os.fstat(fd), label, limit)  # the file opened is the file checked (no TOCTOU)
        chunks, remaining = [], limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as error:
        raise _os_error(error, label) from None
    finally:
        os.close(fd)
    if remaining <= 0:
        raise TnaasError(f"{label} is larger than the limit of {format_size(limit)}")
    return b"".join(chunks)
