"""Offline availability: normalisation per registry, taken/free answers with their qualifiers,
near misses against brute force, lazy loading, and the bundled index against a rebuild."""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tnaas.errors import TnaasError
from tnaas.tasks import availability as av

ROOT = Path(__file__).resolve().parents[1]
PYPI_FREE = "free in the PyPI snapshot of late 2026"
NPM_FREE = "not among the 227k popular npm packages (late 2026)"
CRAN_FREE = "not among the CRAN names we have (partial)"


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance by the textbook dynamic programme (reference)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


# ---- normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, form",
    [("Num_Py", "num-py"), ("num.py", "num-py"), ("NUM--py", "num-py"), ("a._-b", "a-b"), ("numpy", "numpy")],
)
def test_pep503_normalisation(name, form):
    assert av.pep503(name) == form


def test_pypi_compares_after_pep503():
    # Different spellings of one normalised name get one answer.
    for spelling in ("scikit-learn", "scikit_learn", "Scikit.Learn", "SCIKIT__LEARN"):
        assert av.check(spelling)["pypi"] == "taken"
    assert av.check("Num_Py")["pypi"] == av.check("num.py")["pypi"] == av.check("num-py")["pypi"]
    assert av.check("Num_Py")["normalised"]["pypi"] == "num-py"
    assert av.check("NumPy")["pypi"] == "taken"


def test_npm_is_lower_case_and_scoped_names_are_separate():
    assert av.check("React")["npm"] == "taken"
    assert av.check("@types/node")["npm"] == "taken"
    assert av.check("@TYPES/Node")["npm"] == "taken"
    # npm does not normalise punctuation: react_dom is not react-dom.
    assert av.check("react-dom")["npm"] == "taken"
    assert av.check("react_dom")["normalised"]["npm"] == "react_dom"
    # A bare name never matches a scoped one, nor the other way round.
    assert av.status("@types/node", "npm") == "taken"
    assert av.status("@types/zzqxwvkpl", "npm") == NPM_FREE
    assert av.status("zzqxwvkpl-node", "npm") == NPM_FREE
    assert "@types/node" in av._INDEX["npm"] and "types/node" not in av._INDEX["npm"]


def test_cran_is_case_insensitive():
    assert av.check("Rcpp")["cran"] == "taken"
    assert av.check("rcpp")["cran"] == "taken"
    assert av.check("GGPLOT2")["cran"] == "taken"


# ---- taken and free --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["numpy", "requests", "scikit-learn", "Django"])
def test_popular_pypi_names_are_taken(name):
    assert av.check(name)["pypi"] == "taken"


@pytest.mark.parametrize("name", ["react", "lodash", "@types/node", "semver"])
def test_popular_npm_names_are_taken(name):
    assert av.check(name)["npm"] == "taken"


def test_random_gibberish_is_free_with_qualified_answers():
    rng = random.Random(20261)
    name = "zq" + "".join(rng.choice("bcdfghjkmnpqrstvwxz") for _ in range(12))
    answer = av.check(name)
    assert answer["pypi"] == PYPI_FREE
    assert answer["npm"] == NPM_FREE
    assert answer["cran"] == CRAN_FREE
    assert answer["similar_to"] == []
    assert av.is_free(name) and av.is_free(name, "pypi,npm,cran")


def test_no_answer_is_an_unqualified_free():
    for name in ("zzqxwvkpl", "numpy", "numpi", "@types/node", "my_pkg", "a b"):
        answer = av.check(name)
        for key in av.INDEXES:
            value = answer[key]
            assert value == "taken" or value.startswith("not a valid") or value == av.INDEXES[key].free_text
            assert value != "free"
        assert "check the registry" in answer["advice"] and "PyPI for " in answer["advice"]
        assert set(answer["snapshots"]) == set(av.INDEXES)


def test_free_texts_name_their_snapshot_and_completeness():
    assert av.INDEXES["pypi"].free_text == PYPI_FREE
    assert av.INDEXES["npm"].free_text == NPM_FREE
    assert av.INDEXES["cran"].free_text == CRAN_FREE
    for spec in av.INDEXES.values():
        assert spec.snapshot and spec.completeness and callable(spec.normalise)


def test_free_texts_agree_with_the_manifest():
    manifest = json.loads((av.INDEX_DIR / "manifest.json").read_text())["indexes"]
    assert manifest["pypi"]["snapshot"] == manifest["npm"]["snapshot"] == av.SNAPSHOT
    assert round(manifest["npm"]["names"] / 1000) == 227  # the "227k" of the npm text
    assert f"{manifest['cran']['names']:,}" in av.INDEXES["cran"].completeness
    assert manifest["pypi"]["names"] == 886_322
    for key, spec in av.INDEXES.items():
        assert manifest[key]["file"] == spec.file


def test_names_a_registry_would_refuse_are_not_free():
    assert av.check("@types/node")["pypi"] == "not a valid PyPI name"
    assert av.check("my_pkg")["cran"] == "not a valid CRAN name"
    assert av.check("zzqx.")["cran"] == "not a valid CRAN name"
    assert av.check("_zzqx")["npm"] == "not a valid npm name"
    assert av.check("zz qx")["pypi"] == "not a valid PyPI name"
    assert not av.is_free("zz qx")
    assert not av.is_free("my_pkg", ["cran"])
    assert av.is_free("zzqx.kvw", ["cran"])


def test_is_free_filters_on_the_chosen_indexes():
    assert not av.is_free("numpy")
    assert not av.is_free("numpy", ["pypi"])
    assert av.is_free("numpy", ["cran"])  # not in the (partial) CRAN list
    assert not av.is_free("react", ("npm",))
    with pytest.raises(TnaasError, match="unknown index 'conda'"):
        av.is_free("numpy", ["pypi", "conda"])
    with pytest.raises(TnaasError, match="unknown index"):
        av.is_free("numpy", [])


def test_check_many_keeps_order():
    answers = av.check_many(["numpy", "zzqxwvkpl", "react"])
    assert [a["name"] for a in answers] == ["numpy", "zzqxwvkpl", "react"]
    assert [a["pypi"] for a in answers] == ["taken", PYPI_FREE, "taken"]
    assert json.loads(json.dumps(answers)) == answers  # JSON-ready


@pytest.mark.parametrize(
    "bad, message",
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("a" * 215, "at most 214 characters"),
        ("num\npy", "one line"),
        ("num\rpy", "one line"),
        ("num\x00py", "one line"),
        (None, "must be text"),
        (42, "must be text"),
    ],
)
def test_bad_names_raise_one_line_errors(bad, message):
    with pytest.raises(TnaasError, match=message) as info:
        av.check(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(TnaasError):
        av.check_many(["numpy", bad])


def test_longest_allowed_name_is_answered():
    assert av.check("a" * 214)["pypi"] == PYPI_FREE


# ---- the binary search ------------------------------------------------------------------


def test_contains_matches_a_set_on_small_lists():
    rng = random.Random(3)
    for _ in range(200):
        words = sorted(
            {"".join(rng.choice("ab-") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(0, 12))}
        )
        data = b"".join(w.encode() + b"\n" for w in words)
        for probe in ("".join(p) for n in range(0, 5) for p in itertools.product("ab-", repeat=n)):
            assert av.contains(data, probe.encode()) == (probe in words), (words, probe)


def test_index_lookups_match_the_list():
    index = av._INDEX["cran"]
    names = index.data().decode().split()
    assert len(index) == len(names) == 1109
    assert all(name in index for name in names)
    assert not any(name + "x" in index for name in names if name + "x" not in names)


# ---- near misses ------------------------------------------------------------------------


def test_within_one_edit_matches_the_dynamic_programme():
    alphabet = "abc"
    words = ["".join(p) for n in range(0, 5) for p in itertools.product(alphabet, repeat=n)]
    for a in words:
        for b in words:
            assert av.within_one_edit(a, b) == (osa_distance(a, b) == 1), (a, b)


def test_near_miss_is_flagged():
    hits = av.check("numpi")["similar_to"]
    assert {"name": "numpy", "registry": "pypi", "rank": hits[0]["rank"]} in hits
    assert any(h["name"] == "react" and h["registry"] == "npm" for h in av.check("raect")["similar_to"])
    assert any(h["name"] == "pandas" for h in av.check("pandsa")["similar_to"])  # adjacent swap
    assert any(h["name"] == "requests" for h in av.check("requets")["similar_to"])  # deletion
    assert any(h["name"] == "flask" for h in av.check("flasks")["similar_to"])  # insertion
    # The name itself is never its own near miss, and two edits are not one.
    assert all(h["name"] != "numpy" for h in av.check("numpy")["similar_to"])
    assert all(h["name"] != "numpy" for h in av.check("nmpi")["similar_to"])


def test_near_misses_equal_brute_force_over_the_popular_names():
    entries = av._POPULAR.entries()
    assert sum(1 for e in entries if e[0] == "pypi") == 5000 and sum(1 for e in entries if e[0] == "npm") == 5000
    rng = random.Random(7)
    queries = ["numpi", "Num_Py", "reactt", "@types/nod", "zzqxwvkpl", "bot3", "url-lib3"]
    # Random one- and two-edit mutations of popular names.
    for _ in range(150):
        word = list(rng.choice(entries)[2])
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(word))
            op = rng.choice("isdt")
            if op == "i":
                word.insert(i, rng.choice("abcxyz-_."))
            elif op == "s":
                word[i] = rng.choice("abcxyz")
            elif op == "d" and len(word) > 1:
                del word[i]
            elif op == "t" and i + 1 < len(word):
                word[i], word[i + 1] = word[i + 1], word[i]
        queries.append("".join(word))
    # rapidfuzz's OSA distance is the reference over all 10,000 names (fast and independent;
    # `osa_distance` above checks the one-edit test itself exhaustively on short words).
    osa = pytest.importorskip("rapidfuzz.distance").OSA.distance
    for query in queries:
        expected = [
            {"name": name, "registry": registry, "rank": rank}
            for registry, rank, name in entries
            if osa(av.INDEXES[registry].normalise(query), name) == 1
        ]
        assert av.similar_to(query) == expected, query


# ---- lazy loading ------------------------------------------------------------------------


def test_indexes_load_on_first_lookup_not_on_import():
    code = (
        "import sys; import tnaas.tasks.availability as av; "
        "before = av.loaded(); av.status('numpy', 'pypi'); after_pypi = av.loaded(); av.check('x'); "
        "print(before, after_pypi, sorted(av.loaded()), 'rapidfuzz' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == "[] ['pypi'] ['cran', 'npm', 'popular', 'pypi'] False"


def test_index_files_are_compact_package_data():
    sizes = {path.name: path.stat().st_size for path in av.INDEX_DIR.iterdir()}
    assert set(sizes) == {"pypi.txt.gz", "npm.txt.gz", "cran.txt.gz", "popular.tsv", "manifest.json"}
    assert sum(sizes.values()) < 8_000_000


# ---- the bundled index is what the sources give ---------------------------------------------


def _build_module():
    spec = importlib.util.spec_from_file_location("build_availability", ROOT / "scripts" / "build_availability.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_index_equals_a_rebuild_from_the_sources():
    build = _build_module()
    sources = build.find_sources()
    if sources is None:
        pytest.skip("no shared/corpora-sources here: the product does not need it")
    rebuilt = build.build(sources)
    for name, data in rebuilt.items():
        bundled = (av.INDEX_DIR / name).read_bytes()
        if name.endswith(".gz"):  # compare contents; the compressed bytes then agree as well
            assert gzip.decompress(bundled) == gzip.decompress(data), name
        assert bundled == data, name
    # And the list holds exactly the PEP 503 forms of every source name.
    with gzip.open(sources / "pypi_names_all.txt.gz", "rt", encoding="utf-8") as lines:
        first = [av.pep503(line.strip()) for _, line in zip(range(1000), lines)]
    assert all(name in av._INDEX["pypi"] for name in first)
