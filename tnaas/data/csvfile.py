"""One column of a `.csv`/`.tsv` text, parsed strictly: every malformed file is one `TnaasError`.

Decisions (each tested in tests/test_corpus.py):
- The first record is the header; names are stripped. Blank lines are skipped.
- Every other record must have exactly as many fields as the header: the first one that
  does not is refused with its line number (a comma inside an unquoted field is the usual
  cause). No padding, no truncation.
- Quoting is strict: an unclosed quote is refused naming the line where its record starts;
  text after a closing quote (`"ab"c`) is refused naming its line.
- A field longer than the csv module's field limit (131,072 characters) is refused naming
  its line, whichever column it is in (the chosen column's items are further limited to
  `MAX_LINE_CHARS` by `corpus_from_items`).
- A chosen column whose name appears twice in the header is refused (which one is meant?).
- Line numbers are physical lines of the file (1 = the header); a quoted field may hold
  line breaks, which `corpus_from_items` turns into a space.
"""

from __future__ import annotations

import csv
import io

from tnaas.errors import TnaasError


def _records(text: str, filename: str, delimiter: str):
    """(first physical line, fields) of every record, blank lines included as []."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = iter(reader)
    while True:
        start = reader.line_num + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            raise _csv_error(error, filename, start, reader.line_num) from None
        yield start, row


def _csv_error(error: csv.Error, filename: str, start: int, line: int) -> TnaasError:
    message = str(error)
    if "field larger than field limit" in message:
        return TnaasError(
            f"{filename}, line {line:,}: a field is longer than {csv.field_size_limit():,} characters "
            "(is it really one item per row?)"
        )
    if "unexpected end of data" in message:
        return TnaasError(f'{filename}, line {start:,}: a quoted field is never closed (a " without its pair)')
    if "expected after" in message:
        return TnaasError(
            f'{filename}, line {line:,}: text after a closing quote (write a quote inside a quoted field as "")'
        )
    return TnaasError(f"{filename}, line {line:,}: not valid CSV ({message})")


def header(text: str, filename: str, delimiter: str) -> list[str]:
    """The stripped column names of the first record ([] when the text has no record)."""
    for _, row in _records(text, filename, delimiter):
        return [name.strip() for name in row]
    return []


def column(text: str, filename: str, delimiter: str, name: str | None) -> tuple[list[str], list[int]]:
    """The fields of column `name` (None: the only column) and the line each record starts on.

    Raises `TnaasError` for a missing, ambiguous or duplicated column, a ragged record or
    malformed quoting (see the module docstring).
    """
    records = _records(text, filename, delimiter)
    first = next(records, None)
    names = [field.strip() for field in first[1]] if first else []
    if not names:
        raise TnaasError(f"{filename} has no header line (the first line names the columns)")
    if name is None:
        if len(names) != 1:
            raise TnaasError(f"{filename} has {len(names)} columns ({', '.join(names)}): choose one")
        name = names[0]
    if name not in names:
        raise TnaasError(f"{filename} has no column {name!r}; its columns are {', '.join(names)}")
    if names.count(name) > 1:
        raise TnaasError(f"{filename} has {names.count(name)} columns named {name!r}; rename them")
    at, width = names.index(name), len(names)
    items, lines = [], []
    separator = "a tab" if delimiter == "\t" else f"a {delimiter!r}"
    for start, row in records:
        if not row:
            continue  # a blank line
        if len(row) != width:
            raise TnaasError(
                f"{filename}, line {start:,} has {len(row)} field{'s' if len(row) != 1 else ''} but the header "
                f"has {width} (quote a field that contains {separator})"
            )
        items.append(row[at])
        lines.append(start)
    return items, lines
