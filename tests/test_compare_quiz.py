"""Model comparison, the 'sounds like' classifier and quiz questions."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from tnaas.cli import main
from tnaas.data.corpus import load_bundled
from tnaas.errors import TnaasError
from tnaas.models.markov import MarkovModel
from tnaas.tasks.compare import ModelChoice, compare_models, parse_model_choice
from tnaas.tasks.evaluate import evaluate, train_test_split
from tnaas.tasks.quiz import casefolded, fit_corpus_models, make_question, posterior


def test_parse_model_choice_types_values_from_the_registry():
    choice = parse_model_choice("markov:state-size=4,smoothing=kneser-ney")
    assert choice == ModelChoice("markov", (("state_size", 4), ("smoothing", "kneser-ney")))
    assert choice.label == "markov k=4 kneser-ney"
    for bad in ("nope", "markov:state_size", "markov:colour=red", "markov:state_size=three"):
        with pytest.raises(TnaasError):
            parse_model_choice(bad)


def test_comparison_scores_each_model_on_the_same_held_out_split():
    corpus = load_bundled("pokemon")
    choices = [
        parse_model_choice("markov:state_size=2"),
        parse_model_choice("markov:state_size=3,smoothing=kneser-ney"),
    ]
    rows = compare_models(corpus, choices, test_size=100, samples=200, random_state=5)
    assert [r.model for r in rows] == ["markov k=2", "markov k=3 kneser-ney"]
    # Recompute the smoothed row by hand on the split compare_models must have used.
    seed = int(np.random.default_rng(5).integers(2**31))
    train, test = train_test_split(corpus, 100, random_state=seed)
    expected = evaluate(MarkovModel(3, "kneser-ney").fit(train), test)
    assert rows[1].nll_per_token == pytest.approx(expected.nll_per_token, rel=1e-12)
    assert math.isfinite(rows[1].nll_per_token) and rows[1].exact
    for row in rows:
        assert 0 <= row.novelty <= 1 and 0 < row.diversity <= 1 and row.fit_seconds >= 0


def test_unavailable_model_gets_a_row_that_says_why(monkeypatch):
    import tnaas.models as registry

    monkeypatch.setattr(registry.ModelSpec, "available", lambda self: (False, "needs torch: pip install it"))
    rows = compare_models(
        load_bundled("pokemon"), [parse_model_choice("markov")], test_size=50, samples=10, random_state=0
    )
    assert rows[0].note == "needs torch: pip install it" and math.isnan(rows[0].nll_per_token)


def test_compare_cli_prints_a_table_and_json():
    out = io.StringIO()
    assert (
        main(
            ["compare", "--corpus", "ikea", "--models", "markov:state_size=2", "--samples", "50", "--seed", "1"],
            out=out,
        )
        == 0
    )
    assert out.getvalue().splitlines()[0].split()[:2] == ["model", "nll/token"]
    out = io.StringIO()
    main(["compare", "--corpus", "ikea", "--models", "markov:state_size=3,smoothing=kneser-ney", "--json"], out=out)
    answer = json.loads(out.getvalue())
    (row,) = answer["rows"]
    assert row["model"] == "markov k=3 kneser-ney" and row["nll_per_token"] > 0
    assert answer["seed"] == 0 and answer["test_items"] == row["test_items"] > 0


@pytest.fixture(scope="module")
def quiz_models():
    return fit_corpus_models(("pokemon", "tech"))


def test_posterior_is_bayes_over_corpus_models_and_ignores_case(quiz_models):
    probs = posterior("Pikachu", quiz_models)
    assert probs == posterior("pikachu", quiz_models)
    assert math.isclose(sum(probs.values()), 1.0)
    # Bayes with equal priors: the odds are the likelihood ratio.
    lp = {name: m.log_prob("pikachu") for name, m in quiz_models.items()}
    assert probs["pokemon"] / probs["tech"] == pytest.approx(math.exp(lp["pokemon"] - lp["tech"]), rel=1e-9)
    assert max(probs, key=probs.get) == "pokemon"
    assert max(posterior("numpy", quiz_models).items(), key=lambda kv: kv[1])[0] == "tech"
    with pytest.raises(TnaasError):
        posterior("  ", quiz_models)


def test_quiz_questions_are_real_or_new_and_reproducible(quiz_models):
    corpora = {name: casefolded(load_bundled(name)) for name in quiz_models}
    questions = [make_question(quiz_models, random_state=seed, corpora=corpora) for seed in range(30)]
    assert questions == [make_question(quiz_models, random_state=seed, corpora=corpora) for seed in range(30)]
    assert {q.generated for q in questions} == {True, False}
    assert {q.source for q in questions} == {"pokemon", "tech"}
    for q in questions:
        assert q.name == q.name.casefold()
        assert (q.name in corpora[q.source].items) != q.generated


def test_sounds_like_cli():
    out = io.StringIO()
    assert main(["sounds-like", "Bulbasaur", "--json"], out=out) == 0
    data = json.loads(out.getvalue())
    assert max(data["posterior"], key=data["posterior"].get) == "pokemon"
