"""The Generate page's name hunt: constraints, the free-on filter, the like words and the sort,
as one hashable choice that becomes the service's options and a share link's values; the
availability column and near-miss notes of the generated table. No streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only for the annotations: importing this module must stay cheap (the Home page)
    import pandas as pd

SORT_LABELS = {"random": "as drawn", "score": "most typical", "similarity": "most similar"}
FREE_ON_LABELS = {"pypi": "PyPI", "npm": "npm", "cran": "CRAN"}
SHOWN_INDEXES = ("pypi", "npm")  # the table's "free on" column
FREE_ON_HELP = (
    "From offline snapshots (late 2026), never the network: * = free in the snapshot only. "
    "PyPI lists every project; npm only the ~227k popular packages; check the registry before publishing."
)


def split_list(text: str) -> tuple[str, ...]:
    """Comma-separated parts of `text`, stripped, empty ones dropped, order kept (no repeats)."""
    return tuple(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))


@dataclass(frozen=True)
class HuntChoice:
    """What the Constraints expander and the hunt controls ask for, as typed.

    `contains`, `not_contains` and `excludes` are comma-separated texts (each part one
    substring; for `excludes` each part's tokens are banned: "xq" bans x and q); `free_on`
    index names (pypi, npm, cran); `like` comma-separated reference words; `sort` one of
    `SORT_LABELS`.
    """

    starts_with: str = ""
    ends_with: str = ""
    contains: str = ""
    not_contains: str = ""
    excludes: str = ""
    free_on: tuple[str, ...] = ()
    like: str = ""
    sort: str = "random"

    @property
    def has_constraints(self) -> bool:
        """Whether any text constraint is set (the length range is the length controls')."""
        return any(
            (self.starts_with, self.ends_with, split_list(self.contains), split_list(self.not_contains),
             split_list(self.excludes))
        )  # fmt: skip

    @property
    def active(self) -> bool:
        """Whether the service's name hunt is asked for (any option off its default)."""
        return self.has_constraints or bool(self.free_on) or bool(split_list(self.like)) or self.sort != "random"

    @property
    def key(self) -> tuple:
        """Hashable plain values (a cache key)."""
        return (self.starts_with, self.ends_with, self.contains, self.not_contains, self.excludes,
                tuple(self.free_on), self.like, self.sort)  # fmt: skip

    def service_options(self) -> dict:
        """The keyword arguments of `service.generate_answer` for this choice ({} when not active)."""
        if not self.active:
            return {}
        from tnaas.service.names import parse_constraints

        constraints = parse_constraints(
            self.starts_with,
            self.ends_with,
            split_list(self.contains),
            split_list(self.not_contains),
            split_list(self.excludes),
        )
        return {
            "constraints": constraints,
            "free_on": ",".join(self.free_on),
            "like": list(split_list(self.like)),
            "sort": self.sort,
        }

    def link_values(self) -> dict:
        """The share link's values: only those off their default (old links stay as they were)."""
        values = {
            "starts_with": self.starts_with,
            "ends_with": self.ends_with,
            "contains": self.contains,
            "not_contains": self.not_contains,
            "excludes": self.excludes,
            "free_on": list(self.free_on),
            "like": self.like,
        }
        values = {name: value for name, value in values.items() if value}
        if self.sort != "random":
            values["sort"] = self.sort
        return values


def short_status(status: str) -> str:
    """An index's answer (`tnaas.tasks.availability.status`) in a word: taken, free* or invalid."""
    if status == "taken":
        return "taken"
    return "invalid" if status.startswith("not a valid") else "free*"


def free_on_text(checked: dict) -> str:
    """The table's "free on" cell for one `availability.check` answer: "PyPI free* · npm taken"."""
    return " · ".join(f"{FREE_ON_LABELS[key]} {short_status(checked[key])}" for key in SHOWN_INDEXES)


def near_misses(checked: list[dict]) -> list[str]:
    """One line per name one edit from a popular package: "numpi ≈ numpy (PyPI #20)"."""
    lines = []
    for answer in checked:
        near = [f"{hit['name']} ({FREE_ON_LABELS[hit['registry']]} #{hit['rank']:,})" for hit in answer["similar_to"]]
        if near:
            lines.append(f"{answer['name']} ≈ {', '.join(near)}")
    return lines


def hunt_table(table: pd.DataFrame, answer: dict, checked: list[dict]) -> pd.DataFrame:
    """`table` (a generation table, rows in `answer["items"]` order) with the "free on" column
    and, for a hunt answer with like words, each item's similarity (0-1)."""
    table = table.copy()
    table["free on"] = [free_on_text(c) for c in checked]
    if answer.get("like"):
        table["similarity"] = [row["similarity"] for row in answer["ranked"]]
    return table


def probability_text(p: float) -> str:
    """p(constraints) as the metric shows it: four significant digits ("0.01234", "3.1e-07")."""
    return f"{p:.4g}"
