"""The name hunt as service answers: availability, exact constraints, ranking, blends.

Front ends hand raw values to these functions (like `tnaas.service.core`); each returns one
JSON-able dict with the usual header (model, corpus, seed).
"""

from __future__ import annotations

from tnaas.data.corpus import Corpus
from tnaas.errors import TnaasError
from tnaas.inference.constraints import Constraints, sample_constrained
from tnaas.service.core import _model_for, fitted, header
from tnaas.service.requests import MAX_ITEMS, LengthChoice, ModelRequest, parse_flag, parse_name, parse_seed
from tnaas.tasks.generate import MAX_DRAWS_PER_ITEM, MIN_DRAWS
from tnaas.validation import MAX_SAMPLES, check_float, check_int, check_temperature

MAX_NAMES_PER_CHECK = 100
MAX_CONSTRAINED_DRAWS = MAX_SAMPLES  # exact draws from the constraint lattice (its own cap), then filtered
SORTS = ("random", "score", "similarity")
BLEND_MODES = ("mixture", "product")
MAX_BLEND_LENGTH = 40


def check_answer(names) -> dict:
    """What the offline indexes say about each name (see `tnaas.tasks.availability.check`)."""
    from tnaas.tasks.availability import check

    names = [names] if isinstance(names, str) else list(names or [])
    if not 1 <= len(names) <= MAX_NAMES_PER_CHECK:
        raise TnaasError(f"give from 1 to {MAX_NAMES_PER_CHECK} names to check, not {len(names)}")
    return {"names": [check(parse_name(name)) for name in names]}


def parse_free_on(value) -> tuple[str, ...]:
    """Index names from "pypi,npm" (or a list); empty means no availability filter."""
    from tnaas.tasks.availability import INDEXES

    if value is None or value == "":
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(p).strip().lower() for p in parts if str(p).strip()))
    unknown = [n for n in names if n not in INDEXES]
    if unknown:
        raise TnaasError(f"unknown index {unknown[0][:20]!r} in free-on: choose from {', '.join(INDEXES)}")
    return names


def parse_constraints(
    starts_with="", ends_with="", contains=(), not_contains=(), excludes=(), length: LengthChoice | None = None
) -> Constraints:
    """`Constraints` from raw values; the length range comes from a `LengthChoice` range."""
    low, high = 0, None
    if length is not None and length.kind == "range":
        if length.shape != "uniform":
            raise TnaasError("with constraints the length is a range (MIN-MAX): the shape is the model's own")
        low, high = length.low, length.high
    elif length is not None and length.kind == "corpus":
        raise TnaasError("with constraints the length is a range (MIN-MAX) or natural, not corpus")
    as_tuple = lambda v: tuple([v] if isinstance(v, str) else (v or ()))  # noqa: E731
    return Constraints(
        starts_with or "", ends_with or "", as_tuple(contains), as_tuple(not_contains), as_tuple(excludes), low, high
    )


def hunt_answer(
    corpus: Corpus,
    request: ModelRequest,
    n=10,
    seed=None,
    temperature=1.0,
    length=None,
    include_existing: bool = False,
    constraints: Constraints | None = None,
    free_on=(),
    like=(),
    sort="random",
    model=None,
    fit=None,
) -> dict:
    """Distinct names drawn exactly from p(item | constraints), filtered for novelty and
    availability, then ranked.

    The draw is exact (the constraint automaton through the lattice, p(constraints) named);
    novelty and `free_on` are filters over those draws with a bounded budget, like
    `generate`: fewer than `n` found gives `shortfall`. `sort`: random (the order drawn),
    score (most typical first: NLL per token) or similarity (to the `like` words).
    """
    from tnaas.tasks.availability import is_free
    from tnaas.tasks.similarity import rank

    n, seed = check_int(n, "n", 0, MAX_ITEMS), parse_seed(seed)
    temperature, length = check_temperature(temperature), LengthChoice.parse(length)
    constraints = constraints or Constraints()
    free_on, like = (
        parse_free_on(free_on),
        [parse_name(w, "a like word") for w in ([like] if isinstance(like, str) else like or [])],
    )
    sort = sort or "random"
    if sort not in SORTS:
        raise TnaasError(f"unknown sort {str(sort)[:20]!r}: choose one of {', '.join(SORTS)}")
    if sort == "similarity" and not like:
        raise TnaasError("sorting by similarity needs a word to be like (like=...)")
    if length.kind == "range" and (constraints.min_length or constraints.max_length is not None):
        raise TnaasError("give the length once: as the length range or in the constraints")
    if length.kind != "natural":
        constraints = parse_constraints(
            constraints.starts_with,
            constraints.ends_with,
            constraints.contains,
            constraints.excludes,
            constraints.excluded_tokens,
            length,
        )
    include_existing = parse_flag(include_existing, "include_existing")
    model = _model_for(corpus, request, model, fit)
    draws = min(MAX_CONSTRAINED_DRAWS, max(MIN_DRAWS, MAX_DRAWS_PER_ITEM * n))
    drawn = sample_constrained(model, constraints, n=draws, random_state=seed, temperature=temperature, top=0)
    existing = frozenset() if include_existing else model.training_items_
    found: dict[str, None] = {}
    for item in drawn.samples:
        if item not in existing and item not in found and (not free_on or is_free(item, free_on)):
            found[item] = None
            if len(found) == n:
                break
    ranked = rank(list(found), like=like or None, sort=sort, model=model, seed=seed)
    shortfall = ""
    if drawn.probability == 0:
        shortfall = drawn.message or "no item this model can generate meets these constraints"
    elif len(found) < n:
        wanted = " new" if not include_existing else ""
        free = f" and free on {', '.join(free_on)}" if free_on else ""
        shortfall = (
            f"found only {len(found)} of {n} distinct{wanted} items{free} in {draws:,} exact draws; "
            "loosen the constraints, allow existing items or raise the temperature"
        )
    return header(corpus, request, seed) | {
        "n": n,
        "temperature": temperature,
        "constraints": _constraints_dict(constraints),
        "probability": drawn.probability,
        "truncated_mass": drawn.truncated_mass,
        "free_on": list(free_on),
        "like": like,
        "sort": sort,
        "include_existing": include_existing,
        "items": [row["item"] for row in ranked],
        "ranked": ranked,
        "shortfall": shortfall,
    }


def _constraints_dict(c: Constraints) -> dict:
    return {
        "starts_with": c.starts_with,
        "ends_with": c.ends_with,
        "contains": list(c.contains),
        "not_contains": list(c.excludes),
        "excludes": list(c.excluded_tokens),
        "min_length": c.min_length,
        "max_length": c.max_length,
    }


def blend_answer(
    corpus_a: Corpus,
    corpus_b: Corpus,
    weight=0.5,
    state_size=3,
    mode="mixture",
    n=10,
    seed=None,
    max_length=None,
    include_existing: bool = False,
) -> dict:
    """New items that sound like two corpora: `mixture` (markovify's `combine` of both
    chains' counts, weight w on A) or `product` (p ∝ p_A^w p_B^(1-w), exact within
    `max_length` tokens, with the mass the bound leaves out bounded).

    Character corpora are blended in lower case (as the quiz compares them), so that
    "Pikachu" and "pika" share their letters.
    """
    from tnaas.models.blend import ProductBlend, blend_mixture
    from tnaas.tasks.quiz import casefolded

    if corpus_a.token_kind == corpus_b.token_kind == "characters":
        corpus_a, corpus_b = casefolded(corpus_a), casefolded(corpus_b)

    weight = check_float(weight, "the blend weight", 0.0, 1.0)
    state_size = check_int(state_size, "state size", 1, 6)
    n, seed = check_int(n, "n", 0, 1_000), parse_seed(seed)
    include_existing = parse_flag(include_existing, "include_existing")
    if mode not in BLEND_MODES:
        raise TnaasError(f"unknown blend {str(mode)[:20]!r}: choose {' or '.join(BLEND_MODES)}")
    existing = frozenset() if include_existing else frozenset(corpus_a.items) | frozenset(corpus_b.items)
    request = ModelRequest("markov", (("smoothing", "none"), ("state_size", state_size)))
    answer = {
        "blend": {"corpora": [corpus_a.name, corpus_b.name], "weight": weight, "mode": mode},
        "corpora": [header(c, None, None)["corpus"] for c in (corpus_a, corpus_b)],
        "model": request.to_dict(),
        "seed": seed,
    }
    if mode == "mixture":
        model = blend_mixture(corpus_a, corpus_b, weight, state_size)
        draw = lambda k, rng: model.sample(k, random_state=rng)  # noqa: E731
        answer["max_length"] = None
    else:
        cap = check_int(max_length if max_length is not None else 20, "the maximum length", 1, MAX_BLEND_LENGTH)
        models = [
            fitted(c, ModelRequest.parse("markov", {"state_size": state_size}, c))[0] for c in (corpus_a, corpus_b)
        ]
        model = ProductBlend(models[0], models[1], weight, cap)
        draw = lambda k, rng: model.sample(k, random_state=rng)  # noqa: E731
        answer["max_length"] = cap
        answer["probability_within_bound"] = model.probability_within_bound
        answer["truncated_bound"] = model.truncated_bound
    from tnaas.validation import rng_from

    rng = rng_from(seed)
    found: dict[str, None] = {}
    budget = max(MIN_DRAWS, MAX_DRAWS_PER_ITEM * n)
    for item in draw(budget, rng):
        if item not in existing:
            found.setdefault(item)
            if len(found) == n:
                break
    answer["items"] = list(found)
    answer["shortfall"] = "" if len(found) == n else f"found only {len(found)} of {n} new items in {budget:,} draws"
    return answer
