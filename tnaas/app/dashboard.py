"""Streamlit glue for the app: the shared sidebar, share links, cached answers, session state.

The only module of the library that imports streamlit; everything that does not need it
lives beside it in `tnaas.app` (`selection`, `links`, `charts`, `shortlist`, `examples`,
`display`, `length_choice`, `tables`, `lineup`, `scoreboard`). Pages call `page()` (page
config, share link, sidebar) and the helpers below, and hold layout only.

Everything goes through the service layer (`tnaas.service`): fitted models come from its one
bounded cache (`service.fitted`, keyed by corpus content hash, model and params, shared by
every session), and what a page shows or offers for download comes from the service's
answer dicts, so it agrees field for field with the CLI's ``--json``. `st.cache_data` keeps
cheap derived results keyed by the same service key. Cached objects are read, never changed.
Uploads, the shortlist and the quiz score live in `st.session_state` only.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import dataclass, fields

import numpy as np
import streamlit as st

from tnaas import service

# No pandas here (~0.5-0.9 s of CPU to import, half the first render of a page that needs
# none): `shortlist` and `tables` import it, so they are imported where used. Charts are
# plain Vega-Lite dicts with inline data (`tnaas.app.vega`): drawing one imports neither
# altair nor pandas nor pyarrow; only tables (st.dataframe, st.data_editor) need those.
from tnaas.app import hunt, links
from tnaas.app.examples import pattern_examples, sample_items
from tnaas.app.length_choice import LENGTH_LABELS, target_length
from tnaas.app.scoreboard import Scoreboard
from tnaas.app.selection import Selection
from tnaas.data.corpus import MAX_FILE_BYTES, Corpus, bundled_names, csv_columns, load_bundled, manifest, read_upload  # noqa: F401 (pages)
from tnaas.data.tokens import TOKEN_KINDS  # noqa: F401 (re-exported for the pages, which import only tnaas.app)
from tnaas.errors import TnaasError
from tnaas.inference.completion import Completion
from tnaas.models import MODELS, ModelSpec
from tnaas.service import LengthChoice, ModelRequest
from tnaas.service.requests import MAX_NAME_CHARS, MAX_PATTERN_CHARS, MAX_PREFIX_CHARS  # noqa: F401 (pages)
from tnaas.tasks.compare import ComparisonRow
from tnaas.tasks.quiz import QUIZ_CORPORA, SOUNDS_LIKE_CORPORA, casefolded, make_question, posterior

PAGES = (
    ("app.py", "Home", "🔤"),
    ("pages/1_Generate.py", "Generate", "🎲"),
    ("pages/2_Complete.py", "Complete", "🧩"),
    ("pages/3_Explore.py", "Explore", "🔍"),
    ("pages/4_Corpora.py", "Corpora", "📚"),
    ("pages/5_Compare.py", "Compare", "⚖️"),
    ("pages/6_Quiz.py", "Quiz", "❓"),
    ("pages/7_Blend.py", "Blend", "🧪"),
)
URL_PATHS = {title: "/" if title == "Home" else "/" + title for _, title, _ in PAGES}
RESULT_CACHE_ENTRIES = 256  # generated tables, completions, heatmaps: small, cheap to recompute
UPLOADS, UPLOAD_PREFIX, QUIZ = "uploads", links.UPLOAD_PREFIX, "quiz"  # session_state keys
cached_result = st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)  # shared by all sessions


@contextlib.contextmanager
def user_errors():
    """Show a `TnaasError` raised in the block as `st.error` (its message, no traceback)."""
    try:
        yield
    except TnaasError as error:
        st.error(str(error), icon="⚠️")


def show_chart(spec: dict, where=None) -> None:
    """Draw a chart (a Vega-Lite spec from `tnaas.app.charts` or `score_charts`, its data
    inline in a layer, so no Arrow conversion) at full width in `where` (a container) or the page."""
    (where or st).vega_lite_chart(spec, width="stretch")


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


def corpus_labels() -> dict[str, str]:
    """Every corpus this session can pick (bundled, then its uploads): key -> title."""
    # Titles from the manifest: no corpus has to be loaded to draw the list.
    labels = {entry["name"]: entry["title"] for entry in manifest()}
    labels.update({key: corpus.title + " (your upload)" for key, corpus in session_uploads().items()})
    return labels


def corpus_by_key(key: str) -> Corpus:
    """A bundled corpus by name, or one of this session's uploads by its key."""
    return session_uploads()[key] if key.startswith(UPLOAD_PREFIX) else load_bundled(key)  # lru-cached, shared


# ------------------------------------------------------------------ models
def clear_caches() -> None:
    """Forget every cached result and fitted model (the service's cache included): for tests."""
    st.cache_data.clear()
    st.cache_resource.clear()
    service.MODELS_CACHE.clear()


def fitted_model(selection: Selection):
    """The selected model fitted on the selected corpus, from the service's shared cache
    (`service.fitted`; never mutate it), with a progress bar while it fits.

    A `TnaasError` (bad parameters, a corpus the model cannot learn) propagates.
    """
    progress = _ProgressBar(f"Fitting the {selection.spec.title} on {selection.corpus.title}")
    try:
        return service.fitted(selection.corpus, selection.request, progress=progress)[0]
    finally:
        progress.done()


def model_or_stop(selection: Selection):
    """`fitted_model`, or an `st.error` and the end of this page's run."""
    try:
        return fitted_model(selection)
    except TnaasError as error:
        st.error(str(error), icon="⚠️")
        st.stop()


# ------------------------------------------------------------------ widgets
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


def control(widget, label: str, key: str, default, *args, **kwargs):
    """`widget(label, *args, key=key, **kwargs)` starting at `default` unless its state (a
    share link, an earlier run) already holds a value: the value lives in session state
    only, so a link can set it before the widget is drawn."""
    st.session_state.setdefault(key, default)
    return widget(label, *args, key=key, **kwargs)


def _hyperparameter_widget(h, spec: ModelSpec, corpus_key: str, corpus: Corpus):
    default = h.default_for(corpus)
    key, label, bar = f"hp/{corpus_key}/{spec.name}/{h.name}", h.label.capitalize(), st.sidebar
    if h.kind == "choice":
        return remembered(bar.selectbox, label, key, default, options=list(h.choices), help=h.help)
    cast = int if h.kind == "int" else float
    low, high = cast(h.low), cast(h.high)
    widget = bar.slider if h.kind == "int" and high - low <= 20 else bar.number_input
    return remembered(widget, label, key, cast(default), min_value=low, max_value=high, help=h.help)


def sidebar() -> Selection:
    """The shared sidebar: page links, corpus, model and its hyperparameters (all from the
    registry, the training seed of seeded models included).

    Every page calls it, so a page opened directly by URL works, and the choices carry
    across pages.
    """
    bar = st.sidebar
    for path, title, icon in PAGES:
        bar.page_link(path, label=title, icon=icon)
    bar.divider()
    labels = corpus_labels()
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
    for name, (ok, why) in status.items():
        if not ok:
            bar.caption(f"🚫 {MODELS[name].title} is unavailable: {why}")
    try:
        request = ModelRequest.parse(model_name, params, corpus)
    except TnaasError as error:  # a widget value the registry refuses (e.g. after a registry change)
        st.error(str(error), icon="⚠️")
        st.stop()
    return Selection(corpus_key, corpus, request)


def page(title: str, icon: str) -> Selection:
    """Page config (title, icon, wide layout), a share link's settings on first load, and
    the shared sidebar; call first on every page. `title` is one of `PAGES`."""
    st.set_page_config(page_title=f"{title} · TNaaS", page_icon=icon, layout="wide")
    apply_link(title)
    return sidebar()


# ------------------------------------------------------------------ warm-up
WARM_UP_ENV = "TNAAS_NO_WARM_UP"  # set (to anything) to skip the background warm-up, e.g. when measuring
# The warm-up waits this long first: the page that started it is still being sent to the
# browser (and drawn there, often on the same machine), and the warm-up's imports would
# compete with that for the GIL and the CPU (measured: +0.5 s to the first render otherwise).
WARM_UP_DELAY_S = 2.0
_warm_up_started = threading.Event()


def warm_up() -> None:
    """Start, once per server process, a background thread that does now what other pages
    will need: import pandas and pyarrow (tables) and the modules drawing tables and charts
    (~0.8 s of CPU), read the package-name indexes of the free-on check, load every bundled
    corpus and fit the default model on the default corpus. Pages call it as their last
    statement, and it starts `WARM_UP_DELAY_S` later, so it does not delay the page being
    drawn (it shares the GIL with the server) but runs while the user reads it. Best effort: a failure here only means that
    the page needing it does the work itself, as it would without a warm-up.
    """
    if _warm_up_started.is_set() or os.environ.get(WARM_UP_ENV):
        return
    _warm_up_started.set()
    threading.Thread(target=_warm, name="tnaas-warm-up", daemon=True).start()


def _warm() -> None:
    """The warm-up's work (see `warm_up`); touches no streamlit API, only imports and the
    library's own thread-safe caches (`load_bundled`'s lru_cache, the service's model cache)."""
    import time

    time.sleep(WARM_UP_DELAY_S)
    steps = (
        lambda: __import__("tnaas.app.tables"),  # pandas
        lambda: __import__("pyarrow"),  # what streamlit sends tables as
        lambda: __import__("tnaas.app.charts"),
        lambda: __import__("tnaas.app.score_charts"),
        lambda: __import__("tnaas.app.shortlist"),
        lambda: __import__("tnaas.app.audio"),
        _warm_availability,
        *[lambda name=name: load_bundled(name) for name in bundled_names()],
        lambda: service.fitted(load_bundled("pokemon"), ModelRequest.parse("markov", {}, load_bundled("pokemon"))),
    )
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 (best effort: the page that needs it will do it, and report errors)
            continue


def _warm_availability() -> None:
    """Read and index the offline package-name snapshots (the first free-on check costs ~0.4 s)."""
    from tnaas.tasks import availability

    availability.check("warmup")


# ------------------------------------------------------------------ share links
LINK_WRITTEN, LINK_SEEN = "_link/written", "_link/seen"  # session_state keys
PAGE_KEYS = {"Generate": "gen", "Complete": "complete", "Explore": "explore", "Compare": "compare", "Quiz": "quiz",
             "Blend": "blend"}  # fmt: skip


def _link_fields(title: str) -> dict:
    from tnaas.app import lineup

    labels = tuple(lineup.comparison_menu()) if title == "Compare" else ()
    return links.page_fields(title, labels, tuple(corpus_labels()))


def apply_link(title: str) -> None:
    """Read the URL's query parameters into the widgets' state, once per new link.

    A link is new when it differs from the one this session last wrote (a rerun after a
    widget change leaves the URL as written, so the change wins). A link that names
    another session's upload gives an `st.info`; a bad value one `st.error`; both fall
    back to the defaults (nothing of that link is used).
    """
    state = st.session_state
    query = st.query_params.to_dict()
    if not query or query in (state.get(LINK_WRITTEN), state.get(LINK_SEEN)):
        return
    state[LINK_SEEN] = query
    try:
        link = links.parse_link(query, _link_fields(title), session_uploads())
    except links.PrivateUpload as notice:
        st.info(str(notice), icon="🔒")
        return
    except TnaasError as error:
        st.error(f"This link cannot be used: {error}. Showing the defaults.", icon="⚠️")
        return
    state["corpus"], state["model"] = link.corpus_key, link.request.name
    for name, value in link.request.params:
        state[f"hp/{link.corpus_key}/{link.request.name}/{name}"] = value
    prefix = PAGE_KEYS.get(title, "")
    for name, value in link.values.items():
        if name == "length":
            set_length(prefix, value)
        elif name == "pattern":
            state[f"complete/pattern/{link.corpus_key}"] = value
        elif name == "context":
            state[f"explore/context/{link.corpus.token_kind}"] = value
        elif title == "Home":
            state["home_clicks"] = value
        elif title == "Quiz" and name == "question":
            state[QUIZ] = Scoreboard(seed=value - 1)
        else:
            state[f"{prefix}/{name}"] = value
    if title == "Compare" and "models" in link.values:
        state["compare/from_link"] = True


def share_link(selection: Selection, title: str, values: dict, where=None) -> str:
    """Write the sidebar's choices and the page's `values` into the URL (if they changed)
    and show the link to copy (in `where`, a container, or the page); returns the link."""
    query = links.link_query(selection.corpus_key, selection.request, values)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    st.session_state[LINK_WRITTEN] = query
    link = links.relative_link(URL_PATHS[title], query)
    where = where or st
    note = (
        " (your upload is private: the link works only in this session)"
        if selection.corpus_key.startswith(UPLOAD_PREFIX)
        else ": the same settings give the same result for anyone"
    )
    where.caption(f"🔗 Copy link{note}")
    where.code(link, language=None, wrap_lines=True)
    return link


# ------------------------------------------------------------------ generation
@dataclass(frozen=True)
class GenerateSettings:
    """What the Generate page (and the home page's Go) asks for: `n` distinct items,
    new ones only if `novel`, at `temperature`, with length distribution `length`, and the
    name hunt's options `hunt` (constraints, free on, like, sort; see `tnaas.app.hunt`)."""

    n: int = 10
    seed: int = 0
    temperature: float = 1.0
    length: LengthChoice = LengthChoice()
    novel: bool = True
    hunt: hunt.HuntChoice = hunt.HuntChoice()

    @property
    def key(self) -> tuple:
        """Hashable plain values (a cache key)."""
        return (self.n, self.seed, float(self.temperature), str(self.length), self.novel, self.hunt.key)

    def link_values(self) -> dict:
        """The values a share link holds (see `tnaas.app.links.page_fields`)."""
        return {"n": self.n, "temperature": self.temperature, "seed": self.seed, "novel": self.novel,
                "length": self.length, **self.hunt.link_values()}  # fmt: skip


def set_length(key: str, choice: LengthChoice) -> None:
    """Put `choice` into the state of the length widgets of `length_controls(…, key)`."""
    state = st.session_state
    state[f"{key}/length"] = "custom" if choice.kind == "range" else choice.kind
    if choice.kind == "range":
        state[f"{key}/range"], state[f"{key}/shape"] = (choice.low, choice.high), choice.shape


def length_controls(corpus: Corpus, key: str) -> LengthChoice:
    """Widgets for the length distribution; returns the `LengthChoice`.

    Raises `TnaasError` for a range the service refuses (the slider cannot make one).
    """
    choice = control(
        st.radio,
        "Length distribution",
        f"{key}/length",
        "natural",
        list(LENGTH_LABELS),
        format_func=LENGTH_LABELS.get,
        horizontal=True,
        help="p(T) = p(T | length) p(length): choose p(length); items are then drawn exactly given their length.",
    )
    if choice != "custom":
        return LengthChoice.parse(choice)
    q25, q75 = (int(q) for q in np.percentile(corpus.lengths, [25, 75]))
    longest = links.longest_length(corpus)
    st.session_state.setdefault(f"{key}/range", (min(longest, max(1, q25)), min(longest, max(1, q75))))
    low, high = st.slider(  # a range slider needs its value (a pair) to know it is one
        f"Length range ({corpus.token_kind})",
        1,
        longest,
        st.session_state[f"{key}/range"],
        key=f"{key}/range",
    )
    shape = control(
        st.radio,
        "Shape",
        f"{key}/shape",
        "uniform",
        ["uniform", "peaked"],
        horizontal=True,
        help="peaked: most likely in the middle",
    )
    return LengthChoice.range(int(low), int(high), shape)


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)
def target_length_probs(model_key: tuple, length: str, _model, _corpus: Corpus) -> tuple[np.ndarray, str]:
    """`tnaas.app.length_choice.target_length`, cached per model and length (its text)."""
    return target_length(LengthChoice.parse(length), _model, _corpus)


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Generating…")
def _generate_answer(model_key: tuple, settings_key: tuple, _selection: Selection, _model, _settings) -> dict:
    return service.generate_answer(
        _selection.corpus,
        _selection.request,
        n=_settings.n,
        seed=_settings.seed,
        temperature=_settings.temperature,
        length=_settings.length,
        include_existing=not _settings.novel,
        model=_model,
        **_settings.hunt.service_options(),
    )


def generated(selection: Selection, model, settings: GenerateSettings) -> dict:
    """The service's generate answer (`service.generate_answer`, what ``--json`` prints):
    "items" (distinct, new ones only if `settings.novel`) and "shortfall" (why fewer turned
    up; nothing found is lost). Cached per model and settings."""
    return _generate_answer(selection.key, settings.key, selection, model, settings)


@cached_result
def availability(items: tuple[str, ...]) -> list[dict]:
    """`tnaas.tasks.availability.check` of each item (offline snapshots; cached).

    An item no registry could accept as a name (a tune longer than npm's 214 characters,
    say) is "not a valid ... name" everywhere rather than an error that stops the page.
    """
    from tnaas.tasks.availability import INDEXES, check

    def checked(item: str) -> dict:
        try:
            return check(item)
        except TnaasError:
            return {"name": item, "similar_to": []} | {k: f"not a valid {s.registry} name" for k, s in INDEXES.items()}

    return [checked(item) for item in items]


def hunt_controls(corpus: Corpus, key: str = "gen") -> hunt.HuntChoice:
    """The Constraints expander (starts with, ends with, contains, does not contain, excluded
    tokens), the free-on filter, the like words and the sort; returns the `HuntChoice`."""
    unit = "letters" if corpus.token_kind == "characters" else corpus.token_kind
    typed = ("starts_with", "ends_with", "contains", "not_contains", "excludes")
    with st.expander("Constraints", expanded=any(st.session_state.get(f"{key}/{name}") for name in typed)):
        one, two = st.columns(2)
        starts = text_in(one, "Starts with", f"{key}/starts_with", "Every item begins with this text")
        ends = text_in(two, "Ends with", f"{key}/ends_with", "Every item ends with this text")
        contains = text_in(one, "Contains", f"{key}/contains", "Comma-separated: every one must occur")
        not_contains = text_in(two, "Does not contain", f"{key}/not_contains", "Comma-separated: none may occur")
        excludes = text_in(
            one, f"Excluded {unit}", f"{key}/excludes",
            "Comma-separated; each part's tokens are banned everywhere (xq bans x and q)",
        )  # fmt: skip
        two.caption(
            "The length range is the Length distribution's custom range (uniform). Answered exactly: "
            "items are drawn from p(item | constraints), nothing generated and thrown away."
        )
    one, two, three = st.columns(3)
    free_on = control(
        one.multiselect, "Free on", f"{key}/free_on", [], options=list(hunt.FREE_ON_LABELS),
        format_func=hunt.FREE_ON_LABELS.get, help="Keep only names free in these registries' snapshots. " + hunt.FREE_ON_HELP,
    )  # fmt: skip
    like = text_in(two, "Like", f"{key}/like", "Comma-separated reference words: similarity is shown, and can sort")
    sort = control(
        three.selectbox, "Sort by", f"{key}/sort", "random", options=list(hunt.SORT_LABELS),
        format_func=hunt.SORT_LABELS.get,
        help="as drawn: a seeded shuffle of the exact draws; most typical: lowest NLL per token first; "
        "most similar: to the Like words",
    )  # fmt: skip
    return hunt.HuntChoice(starts, ends, contains, not_contains, excludes, tuple(free_on), like, sort)


def text_in(where, label: str, key: str, help: str) -> str:
    """A text box (at most the service's `MAX_NAME_CHARS`) whose value a share link can set."""
    return control(where.text_input, label, key, "", max_chars=MAX_NAME_CHARS, help=help)


@cached_result
def generation_table(model_key: tuple, items: tuple[str, ...], _model):
    """`tnaas.app.tables.generation_table`, cached per model and items."""
    from tnaas.app import tables

    return tables.generation_table(_model, items)


def answer_json(answer: dict) -> bytes:
    """A service answer as the CLI's ``--json`` writes it (UTF-8, inf and NaN as null)."""
    import json

    return (json.dumps(service.jsonable(answer), ensure_ascii=False) + "\n").encode("utf-8")


# ------------------------------------------------------------------ completion and inspection
@dataclass(frozen=True)
class CompleteSettings:
    """What the Complete page asks for: `pattern`, the `top` completions, `samples` exact
    draws (seeded by `seed`), at `temperature`, with length distribution `length`."""

    pattern: str = ""
    top: int = 10
    samples: int = 10
    seed: int = 0
    temperature: float = 1.0
    length: LengthChoice = LengthChoice()

    @property
    def key(self) -> tuple:
        """Hashable plain values (a cache key)."""
        return (self.pattern, self.top, self.samples, self.seed, float(self.temperature), str(self.length))

    def with_pattern(self, pattern: str) -> CompleteSettings:
        """The same settings for another pattern."""
        return CompleteSettings(pattern, self.top, self.samples, self.seed, self.temperature, self.length)

    def link_values(self) -> dict:
        """The values a share link holds (see `tnaas.app.links.page_fields`)."""
        return {"pattern": self.pattern, "top": self.top, "samples": self.samples, "seed": self.seed,
                "temperature": self.temperature, "length": self.length}  # fmt: skip


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Computing the exact posterior…")
def _complete_answer(model_key: tuple, settings_key: tuple, _selection: Selection, _model, _settings):
    # A refusal is cached too (as its message): the example check asks again on every run.
    try:
        answer = service.complete_answer(
            _selection.corpus,
            _selection.request,
            _settings.pattern,
            top=_settings.top,
            samples=_settings.samples,
            seed=_settings.seed,
            length=_settings.length,
            temperature=_settings.temperature,
            model=_model,
        )
        return answer, ""
    except TnaasError as error:
        return None, str(error)


def completion_answer(selection: Selection, model, settings: CompleteSettings) -> dict:
    """The service's complete answer (`service.complete_answer`, with the registry's remedy
    in an impossible pattern's message): what ``--json`` prints. Cached per model and
    settings; a refused pattern raises `TnaasError`."""
    answer, error = _complete_answer(selection.key, settings.key, selection, model, settings)
    if error:
        raise TnaasError(error)
    return answer


def completion_view(answer: dict) -> Completion:
    """The `Completion` that a complete answer describes (what the charts draw)."""
    return Completion(**{f.name: answer[f.name] for f in fields(Completion) if f.name in answer})


def example_patterns(selection: Selection, model, settings: CompleteSettings) -> tuple[list[str], str]:
    """(the example patterns the model answers with `settings`, the default pattern).

    Each example is tried with the page's own settings; a refused one (too costly, say) is
    left out. The default is the first answered example that can match, else the first
    answered one, else the first example.
    """
    examples = pattern_examples(selection.corpus)
    answered, matching = [], []
    for example in examples:
        try:
            answer = completion_answer(selection, model, settings.with_pattern(example))
        except TnaasError:
            continue
        answered.append(example)
        if answer["log_probability"] > -math.inf:
            matching.append(example)
    return answered, (matching or answered or examples)[0]


def use_example(pattern_key: str) -> None:
    """Callback of the example pills: copy the chosen example into the pattern box."""
    if example := st.session_state.get("complete/example"):
        st.session_state[pattern_key] = example
        st.session_state["complete/example"] = None


@cached_result
def heatmaps(model_key: tuple, limit: int, _model):
    """`model.inspect(limit)`, cached per model."""
    return _model.inspect(limit)


def next_tokens(selection: Selection, model, context: str) -> dict:
    """p(next token | context) ("<end>": the item ends there), from `service.next_tokens_answer`."""
    return service.next_tokens_answer(selection.corpus, selection.request, context, model=model)["distribution"]


@cached_result
def token_frequencies(content_hash: str, top: int, _corpus: Corpus):
    """The corpus's `top` most frequent tokens (rows, see `charts.token_frequencies`), cached."""
    from tnaas.app import charts

    return charts.token_frequencies(_corpus.items, _corpus.token_kind, top)


@cached_result
def tune_wav(item: str) -> bytes:
    """The tune synthesised as WAV bytes (cached)."""
    from tnaas.app import audio

    return audio.wav_bytes(item)


def tune_player(items, key: str) -> None:
    """Pick one of `items` (tunes), hear it and see it as a piano roll."""
    if not (items := list(items)):
        return
    shorten = lambda s: s if len(s) < 70 else s[:67] + "…"  # noqa: E731
    item = st.selectbox("Tune to play", items, key=key, format_func=shorten, help="Notes as written")
    from tnaas.app import audio, charts

    with user_errors():
        st.audio(tune_wav(item), format="audio/wav")
        show_chart(charts.piano_roll_chart(audio.piano_roll_notes(item)))


# ------------------------------------------------------------------ compare
@dataclass(frozen=True)
class CompareSettings:
    """What the Compare page asks for: the models (`ModelChoice`s, by label), the held-out
    `share` (percent), `samples` per model for novelty and diversity, and the `seed`."""

    labels: tuple[str, ...]
    share: int = 10
    samples: int = 200
    seed: int = 0

    def link_values(self) -> dict:
        """The values a share link holds (see `tnaas.app.links.page_fields`)."""
        return {"models": list(self.labels), "share": self.share, "samples": self.samples, "seed": self.seed}


@cached_result
def _compare_answer(content_hash: str, settings_key: tuple, _corpus: Corpus, _settings: CompareSettings) -> dict:
    from tnaas.app import lineup

    settings = _settings
    menu = lineup.comparison_menu()
    progress = _ProgressBar(f"Comparing {len(settings.labels)} models on {_corpus.title}")
    try:
        return service.compare_answer(
            _corpus,
            [menu[label] for label in settings.labels],
            test_size=settings.share / 100,
            samples=settings.samples,
            seed=settings.seed,
            progress=progress,
        )
    finally:
        progress.done()


def comparison(corpus: Corpus, settings: CompareSettings) -> dict:
    """The service's compare answer (`service.compare_answer`, what ``--json`` prints),
    cached by content hash and settings, with a progress bar while it runs."""
    key = (settings.labels, settings.share, settings.samples, settings.seed)
    return _compare_answer(corpus.content_hash, key, corpus, settings)


def comparison_rows(answer: dict) -> list[ComparisonRow]:
    """The `ComparisonRow`s of a compare answer (what the tables and charts take)."""
    return [ComparisonRow(**{k: math.nan if v is None else v for k, v in row.items()}) for row in answer["rows"]]


# ------------------------------------------------------------------ quiz
def corpus_models(names: tuple[str, ...]) -> dict:
    """One classifier model per bundled corpus (`service.corpus_classifiers`, shared cache)."""
    return service.corpus_classifiers(names)


def sounds_like(name: str) -> dict:
    """p(corpus | name) over `SOUNDS_LIKE_CORPORA`, most likely first (`service.sounds_like_answer`)."""
    return service.sounds_like_answer(name, SOUNDS_LIKE_CORPORA)["posterior"]


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


# ------------------------------------------------------------------ shortlist export and import
SHORTLIST, ORIGINS = "shortlist", "shortlist/origins"  # session_state keys


def shortlist_of(corpus_key: str) -> list[str]:
    """This session's shortlist for a corpus (a list changed in place by the page)."""
    return st.session_state.setdefault(SHORTLIST, {}).setdefault(corpus_key, [])


def shortlist_origins() -> dict[str, dict[str, str]]:
    """Shortlisted name -> the share-link query of the settings that produced it (this session)."""
    return st.session_state.setdefault(ORIGINS, {})


def remember_origins(names, selection: Selection, settings: GenerateSettings) -> None:
    """Record the current settings as the origin of each of `names` not yet recorded."""
    query = links.link_query(selection.corpus_key, selection.request, settings.link_values())
    origins = shortlist_origins()
    for name in names:
        origins.setdefault(name, query)


def shortlist_export(names: list[str], model) -> list[dict]:
    """The export rows of `names` (see `tnaas.app.shortlist.export_rows`), scored by `model`."""
    from tnaas.app import shortlist
    from tnaas.tasks.similarity import nll_per_token

    def params_of(query: dict) -> dict:
        spec = MODELS.get(query.get("model", ""))
        return {h.name: query[h.name] for h in spec.hyperparameters if h.name in query} if spec else {}

    scores = [nll_per_token(model, name) for name in names]
    return shortlist.export_rows(names, shortlist_origins(), availability(tuple(names)), scores, params_of)


def import_shortlist(data: bytes, filename: str) -> tuple[int, dict[str, str]]:
    """Add the names of an exported shortlist file to this session's shortlists (each under
    the corpus of its settings) and their origins; returns (names added, the last name's
    settings). A bad file raises `TnaasError` and changes nothing."""
    from tnaas.app import shortlist

    pairs = shortlist.read_export(data, filename)
    added = 0
    for name, query in pairs:
        names = shortlist_of(query.get("corpus", st.session_state.get("corpus", "pokemon")))
        if name not in names:
            names.append(name)
            added += 1
        if query:
            shortlist_origins()[name] = query
    return added, pairs[-1][1]


def import_once(upload) -> tuple[int, dict[str, str], str]:
    """`import_shortlist` of an `st.file_uploader` file, once per file (reruns reuse the
    outcome): (names added, the last name's settings, the error message or "")."""
    done = st.session_state.get("_shortlist/import")
    if done is None or done[0] != upload.file_id:
        try:
            added, last = import_shortlist(upload.getvalue(), upload.name)
            done = (upload.file_id, added, last, "")
        except TnaasError as error:
            done = (upload.file_id, 0, {}, str(error))
        st.session_state["_shortlist/import"] = done
    return done[1:]


def continue_from(query: dict[str, str]) -> None:
    """Callback: open the Generate page's settings of `query` (a share link's) in this session."""
    st.query_params.from_dict(query)
    st.session_state.pop(LINK_SEEN, None)


# ------------------------------------------------------------------ blend
@cached_result
def _blend_answer(key: tuple, _a: Corpus, _b: Corpus) -> dict:
    weight, state, mode, n, seed, max_length = key[2:]
    return service_names().blend_answer(_a, _b, weight, state, mode, n, seed, max_length)


def service_names():
    """`tnaas.service.names` (imported on first use)."""
    from tnaas.service import names

    return names


def blended(a_key: str, b_key: str, weight: float, state: int, mode: str, n: int, seed: int, max_length: int) -> dict:
    """The service's blend answer (`service.names.blend_answer`) of two corpora by key, cached
    by their content hashes and the settings."""
    a, b = corpus_by_key(a_key), corpus_by_key(b_key)
    key = (a.content_hash, b.content_hash, float(weight), int(state), mode, int(n), int(seed), int(max_length))
    return _blend_answer(key, a, b)
