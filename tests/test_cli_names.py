"""The name hunt from the command line: `check`, exact constraints, availability, ranking, blends."""

from __future__ import annotations

import io
import json

import pytest

from tnaas.cli import main
from tnaas.data.corpus import load_bundled
from tnaas.inference.constraints import Constraints, sample_constrained
from tnaas.models import make_model
from tnaas.tasks.availability import check, is_free


def run(argv, capsys) -> tuple[int, str, str]:
    out = io.StringIO()
    status = main(argv, out=out)
    return status, out.getvalue(), capsys.readouterr().err


def test_check_prints_one_row_per_name_and_json_matches_the_library(capsys):
    status, out, _ = run(["check", "numpy", "zorblaxify"], capsys)
    assert status == 0 and out.splitlines()[1].split()[:3] == ["numpy", "taken", "taken"]
    assert "free in the PyPI snapshot" in out.splitlines()[2] and "check the registry" in out
    status, out, _ = run(["check", "numpy", "zorblaxify", "--json"], capsys)
    assert status == 0 and json.loads(out) == [check("numpy"), check("zorblaxify")]


def test_check_refuses_an_empty_or_absurd_name_in_one_line(capsys):
    status, out, err = run(["check", "x" * 5000], capsys)
    assert status == 2 and out == "" and err.count("\n") == 1 and "limit" in err


def test_constrained_generation_is_the_exact_constrained_draw(capsys):
    argv = ["generate", "--corpus", "tech", "--smoothing", "kneser-ney", "--starts-with", "mo", "--ends-with", "ly"]
    argv += ["--contains", "py", "--excludes", "xq", "--length-dist", "5-8", "-n", "5", "--seed", "1", "--json"]
    status, out, _ = run(argv, capsys)
    answer = json.loads(out)
    assert status == 0 and len(answer["items"]) == 5 and answer["seed"] == 1
    for item in answer["items"]:
        assert item.startswith("mo") and item.endswith("ly") and "py" in item and 5 <= len(item) <= 8
        assert not set(item) & set("xq") and item not in load_bundled("tech").items
    model = make_model("markov", {"state_size": 3, "smoothing": "kneser-ney"}).fit(load_bundled("tech"))
    exact = sample_constrained(model, Constraints("mo", "ly", ("py",), (), ("xq",), 5, 8), n=0)
    assert answer["probability"] == pytest.approx(exact.probability, rel=1e-12) and answer["probability"] > 0
    status, text, err = run([a for a in argv if a != "--json"], capsys)
    assert text.splitlines() == answer["items"] and "p(constraints) = " in err


def test_free_on_keeps_only_names_free_in_those_indexes(capsys):
    argv = ["generate", "--corpus", "tech", "-n", "8", "--seed", "3", "--free-on", "pypi,npm", "--json"]
    answer = json.loads(run(argv, capsys)[1])
    assert len(answer["items"]) == 8 and all(is_free(item, ("pypi", "npm")) for item in answer["items"])
    assert answer["free_on"] == ["pypi", "npm"]


def test_sort_by_similarity_puts_the_closest_first(capsys):
    argv = ["generate", "--corpus", "tech", "-n", "20", "--seed", "0", "--like", "lodash", "--sort", "similarity"]
    answer = json.loads(run([*argv, "--json"], capsys)[1])
    from tnaas.tasks.similarity import distance

    keys = [(row["distance"], -row["similarity"]) for row in answer["ranked"]]
    assert keys == sorted(keys) and answer["items"] == [r["item"] for r in answer["ranked"]]
    assert all(row["distance"] == distance(row["item"], "lodash") for row in answer["ranked"])


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--free-on", "cpan"], "unknown index"),
        (["--sort", "similarity"], "like"),
        (["--length-dist", "corpus", "--starts-with", "a"], "range"),
        (["--starts-with", "Ω"], "Ω"),
    ],
)
def test_bad_hunt_options_are_one_line_exit_2(argv, fragment, capsys):
    status, out, err = run(["generate", "--corpus", "tech", *argv], capsys)
    assert status == 2 and out == "" and err.count("\n") == 1 and fragment in err


@pytest.mark.parametrize("mode", ["mixture", "product"])
def test_blends_give_new_items_and_name_their_recipe(mode, capsys):
    argv = ["generate", "--corpus", "pokemon", "--blend", "tech:0.5", "--blend-mode", mode, "-n", "5", "--seed", "0"]
    answer = json.loads(run([*argv, "--json"], capsys)[1])
    assert answer["blend"] == {"corpora": ["pokemon", "tech"], "weight": 0.5, "mode": mode}
    assert len(answer["items"]) == 5 and answer["seed"] == 0
    known = {i.casefold() for i in load_bundled("pokemon").items} | set(load_bundled("tech").items)
    assert not set(answer["items"]) & known
    if mode == "product":
        assert 0 < answer["probability_within_bound"] <= 1 and answer["truncated_bound"] >= 0
    assert run(argv, capsys)[1].splitlines() == answer["items"], "same seed, same blend"
