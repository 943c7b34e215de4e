"""File bytes to checked text: bounded gzip decompression, UTF-8 decoding, control characters.

The WHOLE content is checked (not a prefix): a NUL byte anywhere means a binary file, and
any other control character (C0 except tab, newline and carriage return; DEL; C1
U+0080-U+009F, including NEL, vertical tab and form feed) is refused with its line
number, and so is a bidirectional control (U+202A-U+202E, U+2066-U+2069): it makes a
generated item display in another order than it reads ("Trojan Source"). The checks run in C (`bytes.translate`, `in`) so they cost a few milliseconds on
a 25 MB file.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib

from tnaas.data.reader import format_size, too_large
from tnaas.errors import TnaasError
from tnaas.validation import BIDI_CONTROLS

_C0_AND_DEL = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # the same set, on text (error path)
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")  # U+0080-U+009F encoded in UTF-8


def is_gzip_name(filename: str) -> bool:
    """Whether `filename` says gzip (`.gz`, any case)."""
    return filename.lower().endswith(".gz")


def decompress(data: bytes, filename: str, limit: int) -> bytes:
    """Gunzip `data`, reading at most `limit + 1` bytes of output (a gzip bomb stops there)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error):
        raise TnaasError(f"{filename} is not a valid gzip file") from None
    if len(out) > limit:
        raise TnaasError(f"{filename} decompresses to more than {format_size(limit)}, the limit")
    return out


def _has_control(data: bytes) -> bool:
    if len(data.translate(None, _C0_AND_DEL)) != len(data):
        return True
    return b"\xc2" in data and _C1_UTF8.search(data) is not None  # most texts have no U+0080-U+00BF


def decode(data: bytes, filename: str, limit: int) -> str:
    """Checked text of file bytes (see the module docstring); `limit` bounds bytes after gunzip."""
    if len(data) > limit:
        raise too_large(filename, len(data), limit)
    if is_gzip_name(filename):
        data = decompress(data, filename, limit)
    if not data.strip():
        raise TnaasError(f"{filename} is empty")
    if b"\x00" in data:
        raise TnaasError(f"{filename} looks like a binary file (it contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TnaasError(
            f"{filename} is not UTF-8 (byte 0x{data[error.start]:02x} at position {error.start}); re-save it as UTF-8"
        ) from None
    if _has_control(data):  # valid UTF-8 now, so the byte patterns are exactly the characters
        found = _CONTROL.search(text)
        line = len(split_lines(text[: found.start()]))
        raise TnaasError(
            f"{filename} contains a control character (U+{ord(found.group()):04X}) on line {line:,}: "
            "is it a binary file?"
        )
    if b"\xe2\x80" in data or b"\xe2\x81" in data:  # the UTF-8 lead bytes of U+2000-U+207F
        found = BIDI_CONTROLS.search(text)
        if found:
            line = len(split_lines(text[: found.start()]))
            raise TnaasError(
                f"{filename} contains a bidirectional control character (U+{ord(found.group()):04X}) on line "
                f"{line:,}: it would make items display in another order than they read; remove it"
            )
    return text


def split_lines(text: str) -> list[str]:
    """Lines of a text file: they end at \\n, \\r\\n or \\r (other Unicode line separators,
    U+2028 and U+2029, stay inside a line, where normalising makes them a space)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")
