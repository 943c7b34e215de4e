"""Streamlit glue for the app: cached loaders, the shared sidebar, session-scoped state.

The only module of the library that imports streamlit; everything that does not need it
lives in `tnaas.ui` (`selection`, `vega`, `shortlist`, `examples`, `display`, `length_choice`,
`tables`, `lineup`, `scoreboard`), which the pages also import directly.
Pages call `page()` (page config + sidebar) and the cached helpers below, and hold layout only.

Caching: bundled corpora by `load_bundled`'s own cache (one read-only object each); fitted
models with `st.cache_resource`, keyed by the corpus's content hash, the model name, its
parameters and the seed, so two users who pick the same corpus share one fitted model and
nothing is refitted on a rerun; results (tables, completions, comparisons) with
`st.cache_data`. Cached objects are read, never changed. Uploads, the shortlist and the quiz
score live in `st.session_state` only, so another session never sees them.
"""

from __future__ import annotations

import contextlib

import numpy as np
import streamlit as st

from tnaas.app import audio, charts, tables
from tnaas.app.examples import pattern_examples, sample_items
from tnaas.app.length_choice import LENGTH_LABELS, resolve_length, target_length
from tnaas.app.scoreboard import Scoreboard
from tnaas.app.selection import Selection
from tnaas.app.vega import vega_lite_spec
from tnaas.data.corpus import Corpus, bundled_names, load_bundled, manifest, read_upload
from tnaas.errors import NotEnoughNovelItems, TnaasError
from tnaas.inference.lengths import MAX_ITEM_TOKENS
from tnaas.models import MODELS, ModelSpec, get_spec
from tnaas.service import ModelRequest
from tnaas.service.core import with_remedy
from tnaas.tasks.compare import compare_models
from tnaas.tasks.generate import generate
from tnaas.tasks.quiz import QUIZ_CORPORA, casefolded, fit_corpus_models, make_question, posterior

PAGES = (
    ("app.py", "Home", "🔤"),
    ("pages/1_Generate.py", "Generate", "🎲"),
    ("pages/2_Complete.py", "Complete", "🧩"),
    ("pages/3_Explore.py", "Explore", "🔍"),
    ("pages/4_Corpora.py", "Corpora", "📚"),
    ("pages/5_Compare.py", "Compare", "⚖️"),
    ("pages/6_Quiz.py", "Quiz", "❓"),
)
MODEL_CACHE_ENTRIES = 24  # fitted models kept for all sessions together: bounds server memory
RESULT_CACHE_ENTRIES = 256  # generated tables, completions, heatmaps: small, cheap to recompute
UPLOADS, UPLOAD_PREFIX, QUIZ = "uploads", "upload/", "quiz"  # session_state keys
cached_result = st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)  # shared by all sessions


@contextlib.contextmanager
def user_errors():
    """Show a `TnaasError` raised in the block as `st.error` (its message, no traceback)."""
    try:
        yield
    except TnaasError as error:
        st.error(str(error), icon="⚠️")


def show_chart(chart, where=None) -> None:
    """Draw an Altair chart at full width (in `where`, a container, or the page), unvalidated
    and with named Arrow datasets (see `tnaas.app.vega`)."""
    (where or st).vega_lite_chart(vega_lite_spec(chart), width="stretch")


class _ProgressBar:
    """A `progress(fraction, message)` callback drawing an `st.progress` bar on first use."""

    def __init__(self, text: str):
        self.text, self.bar = text, None

    def __call__(self, fraction: float, message: str = "") -> None:
        value, text = float(np.clip(fraction, 0.0, 1.0)), f"{self.text}: {message}" if message else self.text
        if self.bar is None:
            self.bar = st.progress(value, text=text)
        else:
            self.bar.progress(value, text=text)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.empty()


# ------------------------------------------------------------------ corpora
def session_uploads() -> dict[str, Corpus]:
    """This session's uploaded corpora, by corpus key (never shared between sessions)."""
    return st.session_state.setdefault(UPLOADS, {})


def add_upload(data: bytes, filename: str, token_kind: str | None, column: str | None, dedupe: bool) -> str:
    """Read an uploaded file into a corpus of this session and select it; returns its key.

    Raises `TnaasError` when the file is not a usable corpus.
    """
    corpus = read_upload(data, filename, token_kind=token_kind, column=column, dedupe=dedupe)
    key = UPLOAD_PREFIX + filename
    session_uploads()[key] = corpus
    st.session_state["corpus"] = key
    return key


@st.cache_data(show_spinner=False)
def bundled_samples(k: int) -> dict[str, list[str]]:
    """`k` sample items of every bundled corpus, by name (cached: the Corpora page shows them all)."""
    return {name: sample_items(load_bundled(name), k) for name in bundled_names()}


def corpus_by_key(key: str) -> Corpus:
    """A bundled corpus by name, or one of this session's uploads by its key."""
    return session_uploads()[key] if key.startswith(UPLOAD_PREFIX) else load_bundled(key)  # lru-cached, shared


# ------------------------------------------------------------------ models
@st.cache_resource(max_entries=MODEL_CACHE_ENTRIES, show_spinner="Fitting the model…")
def _fitted_model(content_hash: str, model_name: str, params: tuple, seed: int, _corpus: Corpus):
    # The bar is created inside the cached call, so its replay on a cache hit is
    # self-contained (create, update, empty) and shows nothing.
    spec = get_spec(model_name)
    model = spec.build(dict(params), random_state=seed, corpus=_corpus)
    progress = _ProgressBar(f"Fitting the {spec.title} on {_corpus.title}")
    model.fit(_corpus, progress=progress)
    progress.done()
    return model


def fitted_model(selection: Selection):
    """The selected model fitted on the selected corpus (cached; shared, never mutate it).

    A `TnaasError` (bad parameters, a corpus the model cannot learn) propagates.
    """
    return _fitted_model(*selection.key, _corpus=selection.corpus)


def model_or_stop(selection: Selection):
    """`fitted_model`, or an `st.error` and the end of this page's run."""
    try:
        return fitted_model(selection)
    except TnaasError as error:
        st.error(str(error), icon="⚠️")
        st.stop()


# ------------------------------------------------------------------ sidebar
def _keep(key: str) -> None:
    st.session_state[key] = st.session_state["_" + key]


def remembered(widget, label: str, key: str, default, options=None, **kwargs):
    """A widget whose value survives page switches.

    Streamlit forgets a widget's value when the user changes page; the value is kept under
    `key` and handed to the widget (key ``_`` + `key`) on every page. A remembered value
    that is no longer among `options` (all of them, for a multiselect) falls back to `default`.
    """
    value = st.session_state.get(key, default)
    if options is not None and not set(value if isinstance(value, list) else [value]) <= set(options):
        value = default
    st.session_state[key] = st.session_state["_" + key] = value
    if options is not None:
        kwargs["options"] = options
    return widget(label, key="_" + key, on_change=_keep, args=(key,), **kwargs)


def _hyperparameter_widget(h, spec: ModelSpec, corpus_key: str, corpus: Corpus):
    default = getattr(corpus, h.corpus_default, h.default) if h.corpus_default else h.default
    key, label, bar = f"hp/{corpus_key}/{spec.name}/{h.name}", h.name.replace("_", " ").capitalize(), st.sidebar
    if h.kind == "choice":
        return remembered(bar.selectbox, label, key, default, options=list(h.choices), help=h.help)
    cast = int if h.kind == "int" else float
    low, high = cast(h.low), cast(h.high)
    widget = bar.slider if h.kind == "int" and high - low <= 20 else bar.number_input
    return remembered(widget, label, key, cast(default), min_value=low, max_value=high, help=h.help)


def sidebar() -> Selection:
    """The shared sidebar: page links, corpus, model and its hyperparameters.

    Every page calls it, so a page opened directly by URL works, and the choices carry
    across pages.
    """
    bar = st.sidebar
    for path, title, icon in PAGES:
        bar.page_link(path, label=title, icon=icon)
    bar.divider()
    # Titles from the manifest: no corpus has to be loaded to draw the list.
    labels = {entry["name"]: entry["title"] for entry in manifest()}
    labels.update({key: corpus.title + " (your upload)" for key, corpus in session_uploads().items()})
    corpus_key = remembered(
        bar.selectbox,
        "① Corpus",
        "corpus",
        "pokemon",
        options=list(labels),
        format_func=labels.get,
        help="What to learn from. Upload your own on the Corpora page.",
    )
    corpus = corpus_by_key(corpus_key)
    bar.caption(
        f"{len(corpus.items):,} items · tokens are {corpus.token_kind} · {len(corpus.vocabulary):,} distinct tokens"
    )
    status = {name: spec.available() for name, spec in MODELS.items()}
    usable = [name for name, (ok, _) in status.items() if ok]
    model_name = remembered(
        bar.selectbox,
        "② Model",
        "model",
        usable[0],
        options=usable,
        format_func=lambda n: MODELS[n].title,
        help="How to learn it. Every model can generate, score and complete.",
    )
    spec = MODELS[model_name]
    bar.caption(spec.description)
    params = {h.name: _hyperparameter_widget(h, spec, corpus_key, corpus) for h in spec.hyperparameters}
    seed = 0
    if spec.seeded:
        seed = remembered(bar.number_input, "Training seed", f"seed/{model_name}", 0, min_value=0, step=1)
    for name, (ok, why) in status.items():
        if not ok:
            bar.caption(f"🚫 {MODELS[name].title} is unavailable: {why}")
    return Selection(corpus_key, corpus, spec, tuple(sorted(params.items())), int(seed))


def page(title: str, icon: str) -> Selection:
    """Page config (title, icon, wide layout) and the shared sidebar; call first on every page."""
    st.set_page_config(page_title=f"{title} · TNaaS", page_icon=icon, layout="wide")
    return sidebar()


# ------------------------------------------------------------------ generation
def length_controls(corpus: Corpus, key: str) -> tuple:
    """Widgets for the length distribution; returns a spec for `tnaas.app.length_choice`:
    ("natural",), ("corpus",) or ("custom", low, high, shape)."""
    choice = st.radio(
        "Length distribution",
        list(LENGTH_LABELS),
        format_func=LENGTH_LABELS.get,
        horizontal=True,
        key=f"{key}/length",
        help="p(T) = p(T | length) p(length): choose p(length); items are then drawn exactly given their length.",
    )
    if choice != "custom":
        return (choice,)
    longest = int(min(MAX_ITEM_TOKENS, corpus.lengths.max() + 10))
    q25, q75 = (int(q) for q in np.percentile(corpus.lengths, [25, 75]))
    low, high = st.slider(
        f"Length range ({corpus.token_kind})", 1, longest, (max(1, q25), max(1, q75)), key=f"{key}/range"
    )
    shape = st.radio(
        "Shape", ["uniform", "peaked"], horizontal=True, key=f"{key}/shape", help="peaked: most likely in the middle"
    )
    return ("custom", int(low), int(high), shape)


@cached_result
def target_length_probs(model_key: tuple, length: tuple, _model, _corpus: Corpus) -> tuple[np.ndarray, str]:
    """`tnaas.app.length_choice.target_length`, cached per model and length spec."""
    return target_length(length, _model, _corpus)


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Generating…")
def generated(model_key: tuple, n: int, seed: int, temperature: float, length: tuple, novel: bool, _model):
    """(items, warning): `n` distinct items (new ones only if `novel`); when fewer turn
    up, the ones found and the reason (nothing is lost)."""
    options = {"temperature": temperature, "length": resolve_length(length), "include_existing": not novel}
    try:
        return generate(_model, n, random_state=seed, **options), ""
    except NotEnoughNovelItems as error:
        return error.items, str(error)


@cached_result
def generation_table(model_key: tuple, items: tuple[str, ...], _model):
    """`tnaas.app.tables.generation_table`, cached per model and items."""
    return tables.generation_table(_model, items)


# ------------------------------------------------------------------ completion and inspection
def default_pattern(selection: Selection, model) -> str:
    """The first example pattern that the model can match (else the first example)."""
    examples = pattern_examples(selection.corpus)
    for example in examples:
        with contextlib.suppress(TnaasError):
            if complete(selection.key, example, 1, 0, 0, ("natural",), 1.0, _model=model).matches:
                return example
    return examples[0]


def use_example(pattern_key: str) -> None:
    """Callback of the example pills: copy the chosen example into the pattern box."""
    if example := st.session_state.get("complete/example"):
        st.session_state[pattern_key] = example
        st.session_state["complete/example"] = None


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Computing the exact posterior…")
def complete(model_key: tuple, pattern: str, top: int, samples: int, seed: int, length: tuple, temperature, _model):
    """`model.complete(...)`, cached per model and arguments (a `Completion`)."""
    length = resolve_length(length)
    result = _model.complete(
        pattern, top=top, samples=samples, random_state=seed, length=length, temperature=temperature
    )
    return with_remedy(result, ModelRequest(model_key[1], model_key[2]))


@cached_result
def heatmaps(model_key: tuple, limit: int, _model):
    """`model.inspect(limit)`, cached per model."""
    return _model.inspect(limit)


@cached_result
def token_frequencies(content_hash: str, top: int, _corpus: Corpus):
    """The corpus's `top` most frequent tokens (see `charts.token_frequencies`), cached."""
    return charts.token_frequencies(_corpus.items, _corpus.token_kind, top)


@cached_result
def tune_wav(item: str) -> bytes:
    """The tune synthesised as WAV bytes (cached)."""
    return audio.wav_bytes(item)


def tune_player(items, key: str) -> None:
    """Pick one of `items` (tunes), hear it and see it as a piano roll."""
    if not (items := list(items)):
        return
    shorten = lambda s: s if len(s) < 70 else s[:67] + "…"  # noqa: E731
    item = st.selectbox("Tune to play", items, key=key, format_func=shorten, help="Notes as written")
    with user_errors():
        st.audio(tune_wav(item), format="audio/wav")
        show_chart(charts.piano_roll_chart(audio.piano_roll(item)))


# ------------------------------------------------------------------ compare
@cached_result
def comparison(content_hash: str, choices: tuple, test_size: float, samples: int, seed: int, _corpus: Corpus):
    """`tnaas.tasks.compare.compare_models` on the corpus for `choices` (`ModelChoice`s), cached by
    content hash and settings, with a progress bar while it runs."""
    progress = _ProgressBar(f"Comparing {len(choices)} models on {_corpus.title}")
    rows = compare_models(_corpus, list(choices), test_size, samples, random_state=seed, progress=progress)
    progress.done()
    return rows


# ------------------------------------------------------------------ quiz
@st.cache_resource(show_spinner="Fitting one model per corpus…")
def corpus_models(names: tuple[str, ...]) -> dict:
    """`tnaas.tasks.quiz.fit_corpus_models(names)`: one classifier model per bundled corpus (shared)."""
    return fit_corpus_models(names)


@cached_result
def quiz_question(seed: int):
    """(question, p(corpus | its name)) for the quiz's question number `seed` (cached)."""
    models = corpus_models(QUIZ_CORPORA)
    corpora = {name: casefolded(load_bundled(name)) for name in QUIZ_CORPORA}
    question = make_question(models, random_state=seed, corpora=corpora)
    return question, posterior(question.name, models)


def scoreboard() -> Scoreboard:
    """This session's quiz score (a new one on the first visit)."""
    return st.session_state.setdefault(QUIZ, Scoreboard())


def answer_quiz(guess: str) -> None:
    """Callback of a guess button: score the current question once."""
    question, probabilities = quiz_question(scoreboard().seed)
    st.session_state[QUIZ] = scoreboard().answer(guess, question.source, max(probabilities, key=probabilities.get))


def next_question() -> None:
    """Callback of the next-question button."""
    st.session_state[QUIZ] = scoreboard().next_question()
