"""Offline name availability: is a name taken on PyPI, npm or CRAN, and which popular package
is it one typo away from?

The answers rest on snapshots bundled in ``tnaas/data/index/`` (built by
``scripts/build_availability.py``), never on the network, so no answer is an unqualified
"free": each says which snapshot it rests on and how complete that is.

- **PyPI** (every project name, late 2026): names compare after PEP 503 normalisation
  (``Num_Py``, ``num.py`` and ``NUM-PY`` are all ``num-py``).
- **npm** (the ~227k packages with >= ~500 downloads a month, late 2026, out of ~3 million):
  names compare in lower case; ``@scope/x`` is its own entry and never matches bare ``x``.
  "taken" is reliable, absence only means "not among the popular ones".
- **CRAN** (the 1,109 packages Debian ships: partial): compared in lower case. The list we
  have is Debian's lower-cased one, and CRAN refuses a new package whose name differs from
  an existing one only in case, so case-insensitive is also how CRAN itself decides.

A registry value is ``"taken"``, the index's qualified "free" text (`IndexSpec.free_text`),
or ``"not a valid <registry> name"`` when the registry would refuse the name whatever the
snapshot says (``@types/x`` on PyPI, ``my_pkg`` on CRAN). Answers are about the normalised
form, given under ``normalised``.

Near misses: ``similar_to`` lists the popular packages (top 5,000 PyPI by download rank and
top 5,000 npm by monthly downloads) one Damerau-Levenshtein edit (insert, delete, substitute,
swap two adjacent characters) from the name as that registry normalises it: ``numpi`` is
flagged as resembling ``numpy``. The query's one-edit neighbours (over the characters the
popular names use) are looked up among the popular names.

Every index loads on its first lookup (decompressed once to bytes, then binary-searched in
place: memory is the uncompressed list, ~13 MB for PyPI), never on import.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tnaas.errors import TnaasError

INDEX_DIR = Path(__file__).resolve().parent.parent / "data" / "index"
MAX_NAME_LENGTH = 214  # npm's limit, the longest of the three registries'
SNAPSHOT = "late 2026"  # the date SOURCES.md gives the PyPI and npm listings

ADVICE = (
    "These are offline snapshots ({snapshot}); check the registry itself before publishing: "
    "PyPI for {pypi!r}, npm for {npm!r}, CRAN for {cran!r}"
)


def pep503(name: str) -> str:
    """PyPI's comparison form (PEP 503): lower case, each run of ``-``, ``_``, ``.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lower(name: str) -> str:
    """npm's and CRAN's comparison form: the name in lower case."""
    return name.lower()


# What each registry accepts for a new name, applied to the normalised form.
_PYPI_VALID = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?", re.ASCII)  # PEP 508 names
# validate-npm-package-name's rule for new packages (url-safe, lower case, no leading . or _).
_NPM_VALID = re.compile(r"(@[a-z0-9~-][a-z0-9._~*-]*/)?[a-z0-9~-][a-z0-9._~-]*", re.ASCII)
# CRAN (Writing R Extensions 1.1.1): letters, digits and dots, starts with a letter, does not
# end in a dot, at least two characters.
_CRAN_VALID = re.compile(r"[a-z][a-z0-9.]*[a-z0-9]", re.ASCII)


@dataclass(frozen=True)
class IndexSpec:
    """One registry's offline index: where it comes from and how it compares names.

    `snapshot` dates the listing; `completeness` says what share of the registry it holds;
    `free_text` is the answer for a name it does not hold; `normalise` maps a name to the
    registry's comparison form; `pattern` is what the registry accepts (on that form).
    """

    name: str
    registry: str
    snapshot: str
    completeness: str
    free_text: str
    normalise: Callable[[str], str]
    pattern: re.Pattern
    file: str

    def valid(self, normalised: str) -> bool:
        """Whether the registry would accept `normalised` (already normalised) as a new name."""
        return self.pattern.fullmatch(normalised) is not None


INDEXES: dict[str, IndexSpec] = {
    "pypi": IndexSpec(
        "pypi",
        "PyPI",
        SNAPSHOT,
        "every project name on PyPI at the snapshot",
        f"free in the PyPI snapshot of {SNAPSHOT}",
        pep503,
        _PYPI_VALID,
        "pypi.txt.gz",
    ),
    "npm": IndexSpec(
        "npm",
        "npm",
        SNAPSHOT,
        "the ~227k npm packages with at least about 500 downloads a month, not the whole registry (~3 million)",
        f"not among the 227k popular npm packages ({SNAPSHOT})",
        lower,
        _NPM_VALID,
        "npm.txt.gz",
    ),
    "cran": IndexSpec(
        "cran",
        "CRAN",
        "Debian package list",
        "partial: the 1,109 CRAN packages Debian ships",
        "not among the CRAN names we have (partial)",
        lower,
        _CRAN_VALID,
        "cran.txt.gz",
    ),
}


class NameIndex:
    """A sorted, newline-terminated list of names, loaded on first use and binary-searched.

    The file is gzip'd UTF-8, sorted by bytes; in memory it stays one `bytes` object (no
    per-name objects), so memory is its uncompressed size and a lookup ~20 probes.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._data: bytes | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the list has been read into memory."""
        return self._data is not None

    def data(self) -> bytes:
        """The uncompressed list, read on the first call (thread-safe)."""
        if self._data is None:
            with self._lock:
                if self._data is None:
                    # zlib in one call (the file is one gzip member): RSS grows by the list
                    # alone, where gzip.decompress's chunked join peaks at about twice that.
                    self._data = zlib.decompress(self.path.read_bytes(), wbits=31)
        return self._data

    def __len__(self) -> int:
        return self.data().count(b"\n")

    def __contains__(self, name: str) -> bool:
        """Whether `name` (already normalised, no line breaks) is one of the lines."""
        return contains(self.data(), name.encode("utf-8"))


def contains(data: bytes, key: bytes) -> bool:
    """Binary search of newline-terminated lines sorted by bytes (`data`) for the line `key`.

    Invariant: every line that could equal `key` starts in [lo, hi); `lo` is a line start and
    `hi` the end of `data` or a line start. Each probe reads the line around the midpoint.
    """
    lo, hi = 0, len(data)
    while lo < hi:
        mid = (lo + hi) // 2
        start = data.rfind(b"\n", lo, mid) + 1 or lo
        end = data.find(b"\n", start)
        line = data[start:end]
        if line == key:
            return True
        if line < key:
            lo = end + 1
        else:
            hi = start
    return False


_INDEX = {key: NameIndex(INDEX_DIR / spec.file) for key, spec in INDEXES.items()}


def loaded() -> list[str]:
    """The names of the indexes (and ``"popular"``) loaded so far in this process."""
    names = [key for key, index in _INDEX.items() if index.loaded]
    return names + (["popular"] if _POPULAR.loaded else [])


def check_name(name) -> str:
    """`name` stripped of surrounding blanks, else `TnaasError` (not text, empty, too long, not one line)."""
    if not isinstance(name, str):
        raise TnaasError(f"a name must be text, not {type(name).__name__}")
    stripped = name.strip()
    if not stripped:
        raise TnaasError("a name to check must not be empty")
    if len(stripped) > MAX_NAME_LENGTH:
        raise TnaasError(f"a name must be at most {MAX_NAME_LENGTH} characters, not {len(stripped):,}")
    if any(ch in stripped for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029") or not stripped.isprintable():
        raise TnaasError(f"a name must be one line of printable characters: {stripped[:40]!r}")
    return stripped


def _check_indexes(indexes) -> tuple[str, ...]:
    if isinstance(indexes, str):
        indexes = [part.strip() for part in indexes.split(",")]
    chosen = tuple(indexes)
    unknown = [key for key in chosen if key not in INDEXES]
    if unknown or not chosen:
        raise TnaasError(f"unknown index {', '.join(map(repr, unknown)) or '(none)'}: choose from {', '.join(INDEXES)}")
    return chosen


def status(name: str, index: str) -> str:
    """One registry's answer for `name`: "taken", its qualified free text, or "not a valid ... name"."""
    spec = INDEXES[_check_indexes([index])[0]]
    key = spec.normalise(check_name(name))
    if key in _INDEX[spec.name]:
        return "taken"  # a listed name is taken even if today's rules would refuse it
    if not spec.valid(key):
        return f"not a valid {spec.registry} name"
    return spec.free_text


def is_free(name: str, indexes=("pypi", "npm")) -> bool:
    """True when `name` is valid and absent from every index in `indexes` (names or "pypi,npm").

    Absence means only what each index's `free_text` says (npm and CRAN are partial).
    """
    chosen = _check_indexes(indexes)
    return all(status(name, key) == INDEXES[key].free_text for key in chosen)


# ---- near misses -------------------------------------------------------------------------


def within_one_edit(a: str, b: str) -> bool:
    """Whether `a` and `b` differ by exactly one insert, delete, substitution or adjacent swap.

    (Optimal-string-alignment distance 1, which is also Damerau-Levenshtein distance 1.)
    """
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        if a[i + 1 :] == b[i + 1 :]:  # one substitution at i
            return True
        return i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1 :] == shorter[i:]


def one_edit_neighbours_in(word: str, names, alphabet: str, lengths: range) -> list[str]:
    """The strings of `names` (a set or dict) one insert, delete, substitution or adjacent
    swap from `word` (never `word` itself), given that every string of `names` is over the
    characters `alphabet` and has a length in `lengths`: exactly those `within_one_edit` accepts.

    Each neighbour is built and looked up: (2 len(word) + 1) x len(alphabet) lookups at most.
    """
    n, hits = len(word), []
    if n - 1 in lengths:
        hits += [v for v in (word[:i] + word[i + 1 :] for i in range(n)) if v in names]
    if n in lengths:
        hits += [v for v in (word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(n - 1)) if v in names]
        for i in range(n):
            before, after = word[:i], word[i + 1 :]
            hits += [v for v in [before + c + after for c in alphabet] if v in names]
    if n + 1 in lengths:
        for i in range(n + 1):
            before, after = word[:i], word[i:]
            hits += [v for v in [before + c + after for c in alphabet] if v in names]
    return [v for v in dict.fromkeys(hits) if v != word]


class PopularIndex:
    """The popular names (``popular.tsv``), read lazily, and their one-edit lookup.

    A popular name one edit from a query is one of the query's one-edit neighbours over the
    characters the registry's popular names use (`one_edit_neighbours_in`): a few hundred to
    a few thousand dict lookups per query (~0.5 ms; none for a name longer than every popular
    one but one), and nothing to build beyond one dict per registry (~10 ms). A
    symmetric-delete index answers a query in ~30 us but took ~0.15-0.2 s of CPU to build,
    a third of the Generate page's first render.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._entries: list[tuple[str, int, str]] | None = None
        self._by_name: dict[str, dict[str, int]] = {}  # registry -> {normalised name: entry number}
        self._alphabet: dict[str, str] = {}  # registry -> the characters its popular names use
        self._lengths: dict[str, range] = {}  # registry -> the lengths its popular names have
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the popular names have been read and indexed."""
        return self._entries is not None

    def _load(self) -> None:
        with self._lock:
            if self._entries is not None:
                return
            entries = []
            for line in self.path.read_text(encoding="utf-8").splitlines():
                registry, rank, name = line.split("\t")
                entries.append((registry, int(rank), name))
            by_name: dict[str, dict[str, int]] = {}
            for i, (registry, _, name) in enumerate(entries):
                by_name.setdefault(registry, {}).setdefault(name, i)
            for registry, names in by_name.items():
                self._alphabet[registry] = "".join(sorted(set().union(*names)))
                self._lengths[registry] = range(min(map(len, names)), max(map(len, names)) + 1)
            self._by_name = by_name
            self._entries = entries

    def entries(self) -> list[tuple[str, int, str]]:
        """(registry, rank, normalised name) for every popular name, by registry then rank."""
        if self._entries is None:
            self._load()
        return self._entries

    def near(self, name: str) -> list[dict]:
        """Popular names one edit from `name` as each registry normalises it, by registry then rank."""
        entries = self.entries()
        found = set()
        for registry, names in self._by_name.items():
            form = INDEXES[registry].normalise(name)
            neighbours = one_edit_neighbours_in(form, names, self._alphabet[registry], self._lengths[registry])
            found.update(names[other] for other in neighbours)
        return [{"name": entries[i][2], "registry": entries[i][0], "rank": entries[i][1]} for i in sorted(found)]


_POPULAR = PopularIndex(INDEX_DIR / "popular.tsv")


def similar_to(name: str) -> list[dict]:
    """Popular packages one Damerau-Levenshtein edit from `name`: [{name, registry, rank}].

    Compared in each registry's normalised form; the name itself (distance 0) is not listed.
    """
    return _POPULAR.near(check_name(name))


# ---- the answer --------------------------------------------------------------------------


def check(name: str) -> dict:
    """Everything the offline indexes say about `name`, as a JSON-ready dict.

    Keys: ``name`` (as given, stripped); ``pypi``, ``npm``, ``cran``: "taken", the index's
    qualified free text, or "not a valid <registry> name"; ``similar_to``: popular names one
    edit away (see `similar_to`); ``normalised``: the form each registry compares;
    ``snapshots``: what each index rests on; ``advice``: check the live registry before
    publishing.
    """
    name = check_name(name)
    normalised = {key: spec.normalise(name) for key, spec in INDEXES.items()}
    answer = {"name": name}
    answer.update({key: status(name, key) for key in INDEXES})
    answer["similar_to"] = similar_to(name)
    answer["normalised"] = normalised
    answer["snapshots"] = {key: f"{spec.snapshot}; {spec.completeness}" for key, spec in INDEXES.items()}
    answer["advice"] = ADVICE.format(snapshot=SNAPSHOT, **normalised)
    return answer


def check_many(names: Iterable[str]) -> list[dict]:
    """`check` for each name, in order (all validated first, so one bad name fails fast)."""
    names = [check_name(name) for name in names]
    return [check(name) for name in names]
