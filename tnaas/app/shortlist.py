"""The Generate page's shortlist: items the user ticked, kept across seeds and settings."""

from __future__ import annotations

import io
import json
import math

import pandas as pd

from tnaas.errors import TnaasError


def update_shortlist(shortlist: list[str], edited: pd.DataFrame) -> list[str]:
    """The shortlist after the user's ticks in the `keep` column of `edited` (columns keep, item).

    Unticked items leave; ticked ones join at the end in table order; order and uniqueness
    are kept, and items not in the table (an earlier seed's) stay.
    """
    kept = set(edited.loc[edited["keep"], "item"])
    dropped = set(edited.loc[~edited["keep"], "item"])
    result = [item for item in shortlist if item not in dropped]
    return result + [item for item in edited["item"] if item in kept and item not in result]


# ------------------------------------------------------------------ export and import
EXPORT_FORMAT = "tnaas-shortlist"
MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_NAMES = 1_000
CSV_COLUMNS = ("name", "pypi", "npm", "cran", "nll_per_token", "corpus", "model", "params", "seed", "constraints",
               "settings")  # fmt: skip
CONSTRAINT_KEYS = ("starts_with", "ends_with", "contains", "not_contains", "excludes", "length", "free_on", "like",
                   "sort")  # fmt: skip


def export_rows(names, origins: dict, checked: list[dict], scores: list[float], params_of) -> list[dict]:
    """One dict per shortlisted name: its availability, score and the settings that produced it.

    `origins[name]` is the share-link query (name -> text) of the Generate settings that
    produced the name; `checked` the `availability.check` answers and `scores` the NLL per
    token (nats, under the current model), both in `names` order; `params_of(query)` the
    model parameters named in a query (by the model's registry entry).
    """
    rows = []
    for name, answer, score in zip(names, checked, scores):
        query = dict(origins.get(name, {}))
        rows.append(
            {
                "name": name,
                "availability": {key: answer[key] for key in ("pypi", "npm", "cran")},
                "similar_to": answer["similar_to"],
                "nll_per_token": score if math.isfinite(score) else None,
                "corpus": query.get("corpus", ""),
                "model": query.get("model", ""),
                "params": params_of(query),
                "seed": int(query["seed"]) if "seed" in query else None,
                "constraints": {k: query[k] for k in CONSTRAINT_KEYS if k in query},
                "settings": query,
            }
        )
    return rows


def as_json(rows: list[dict]) -> bytes:
    """The export as UTF-8 JSON: {"format", "version", "names": rows}."""
    return (
        json.dumps({"format": EXPORT_FORMAT, "version": 1, "names": rows}, ensure_ascii=False, indent=1) + "\n"
    ).encode()


def as_csv(rows: list[dict]) -> bytes:
    """The export as UTF-8 CSV (`CSV_COLUMNS`; nested values as JSON text)."""
    flat = [
        {
            **{key: row["availability"][key] for key in ("pypi", "npm", "cran")},
            **{key: row[key] for key in ("name", "nll_per_token", "corpus", "model", "seed")},
            **{key: json.dumps(row[key], ensure_ascii=False) for key in ("params", "constraints", "settings")},
        }
        for row in rows
    ]
    return pd.DataFrame(flat, columns=list(CSV_COLUMNS)).to_csv(index=False).encode("utf-8")


def _settings(value, where: str) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise TnaasError(f"{where}: the settings are not JSON") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TnaasError(f"{where}: the settings must be a mapping of text to text")
    return value


def read_export(data: bytes, filename: str) -> list[tuple[str, dict[str, str]]]:
    """(name, settings query) pairs from a file `as_json` or `as_csv` wrote (by its extension).

    Raises `TnaasError` (one line) for anything else: too big, not UTF-8, not that format,
    a name that is not one line of text, no names.
    """
    from tnaas.service.requests import parse_name

    if len(data) > MAX_IMPORT_BYTES:
        raise TnaasError(f"the shortlist file is {len(data):,} bytes; at most {MAX_IMPORT_BYTES:,}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TnaasError("the shortlist file is not UTF-8 text") from None
    if filename.lower().endswith(".json"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise TnaasError(f"the shortlist file is not JSON ({error.msg}, line {error.lineno})") from None
        if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
            raise TnaasError(f'the JSON file is not a shortlist export (no "format": "{EXPORT_FORMAT}")')
        rows = document.get("names")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise TnaasError("the shortlist export has no list of names")
        pairs = [(row.get("name"), row.get("settings", {})) for row in rows]
    elif filename.lower().endswith(".csv"):
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (ValueError, pd.errors.ParserError):
            raise TnaasError("the shortlist file is not CSV") from None
        if "name" not in frame.columns or "settings" not in frame.columns:
            raise TnaasError("the CSV file is not a shortlist export (it needs the columns name and settings)")
        pairs = list(zip(frame["name"], frame["settings"]))
    else:
        raise TnaasError(f"a shortlist file is .json or .csv, not {filename[-20:]!r}")
    if not pairs:
        raise TnaasError("the shortlist file holds no names")
    if len(pairs) > MAX_IMPORT_NAMES:
        raise TnaasError(f"the shortlist file holds {len(pairs):,} names; at most {MAX_IMPORT_NAMES:,}")
    return [
        (parse_name(name, f"name {i + 1}").strip(), _settings(settings, f"name {i + 1}"))
        for i, (name, settings) in enumerate(pairs)
    ]
