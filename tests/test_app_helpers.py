"""The dashboard's plain helpers (no script run needed): shortlist, samples, statistics, exports."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tnaas import dashboard
from tnaas.corpus import corpus_from_items, load_bundled
from tnaas.errors import TnaasError
from tnaas.models import MODELS


def editor(rows: dict[str, bool]) -> pd.DataFrame:
    return pd.DataFrame({"keep": list(rows.values()), "item": list(rows)})


def test_ticks_add_to_the_shortlist_in_table_order_and_unticks_remove():
    assert dashboard.update_shortlist([], editor({"b": True, "a": True, "c": False})) == ["b", "a"]
    assert dashboard.update_shortlist(["x", "a"], editor({"a": False, "d": True})) == ["x", "d"]
    assert dashboard.update_shortlist(["x"], editor({"x": True})) == ["x"]  # no duplicates


def test_item_samples_are_seeded_distinct_and_in_corpus_order():
    corpus = load_bundled("pokemon")
    sample = dashboard.sample_items(corpus, 8, seed=3)
    assert sample == dashboard.sample_items(corpus, 8, seed=3) != dashboard.sample_items(corpus, 8, seed=4)
    positions = [corpus.items.index(item) for item in sample]
    assert positions == sorted(positions) and len(set(sample)) == 8
    assert len(dashboard.sample_items(corpus_from_items(list("abcde"), "characters"), 8)) == 5


def test_corpus_statistics():
    corpus = corpus_from_items(["ab", "abc", "ab", "d e", "xyz"], "characters")
    assert dashboard.corpus_stats(corpus) == {
        "items": "5",
        "distinct items": "4",
        "tokens": "13",
        "distinct tokens": "9",  # a b c d e x y z and the space
        "mean length": "2.6",
        "longest": "3",
    }


def test_exports_round_trip():
    frame = pd.DataFrame({"item": ["a,b", "ü"], "log_prob": [-1.5, -2.0]})
    assert pd.read_csv(io.BytesIO(dashboard.as_csv(frame))).equals(frame)
    assert dashboard.as_txt(["one", "two words"]).decode("utf-8").splitlines() == ["one", "two words"]
    assert dashboard.item_lengths(["G4 A4", "C5"], "notes") == [2, 1]


def test_length_specs_resolve_to_what_models_accept():
    assert dashboard.resolve_length(("natural",)) == "natural"
    assert dashboard.resolve_length(("corpus",)) == "corpus"
    custom = dashboard.resolve_length(("custom", 2, 4, "peaked"))
    assert custom.probs[2:5].tolist() == pytest.approx([0.25, 0.5, 0.25])
    with pytest.raises(TnaasError):
        dashboard.resolve_length(("custom", 5, 2, "uniform"))


def test_the_model_cache_key_names_corpus_content_model_parameters_and_seed():
    spec = MODELS["markov"]
    a = dashboard.Selection(
        "x", corpus_from_items(["ab", "ba", "abc", "cab", "bca"], "characters"), spec, (("state_size", 1),), 0
    )
    b = dashboard.Selection(
        "y", corpus_from_items(["ab", "ba", "abc", "cab", "bca"], "characters"), spec, (("state_size", 1),), 0
    )
    c = dashboard.Selection(
        "x", corpus_from_items(["ab", "ba", "abc", "cab", "bcb"], "characters"), spec, (("state_size", 1),), 0
    )
    assert a.key == b.key  # same content under another name: one fitted model
    assert a.key != c.key
    assert a.key != dashboard.Selection("x", a.corpus, spec, (("state_size", 2),), 0).key
    assert a.key != dashboard.Selection("x", a.corpus, spec, (("state_size", 1),), 1).key
    assert a.describe() == "Markov chain (state_size=1) on custom"


def test_pattern_examples_only_use_tokens_the_corpus_has():
    assert dashboard.pattern_examples(load_bundled("tech"))[:4] == ["***base", "mo***", "***ly", "*u*a"]
    assert dashboard.pattern_examples(load_bundled("ikea")) == ["*A*A", "S%"]  # upper-case names
    assert "% love %" not in dashboard.pattern_examples(load_bundled("ipsum"))  # Latin
    assert dashboard.pattern_examples(corpus_from_items(["xy", "yx", "xx", "yy", "xyx"], "characters")) == ["***"]


def test_patterns_are_shown_literally_in_markdown_labels():
    assert dashboard.escape_markdown("*u*a") == r"\*u\*a"
    assert dashboard.escape_markdown("mo%") == r"mo\%"
    assert dashboard.escape_markdown(r"\*x_") == r"\\\*x\_"
