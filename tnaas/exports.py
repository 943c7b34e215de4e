"""Downloads: tables and item lists as the bytes a download button hands to the browser."""

from __future__ import annotations

import pandas as pd


def as_csv(frame: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes, without the index (infinite values are written as ``inf``)."""
    return frame.to_csv(index=False).encode("utf-8")


def as_txt(items) -> bytes:
    """Items as UTF-8 text, one per line."""
    return "".join(f"{item}\n" for item in items).encode("utf-8")
