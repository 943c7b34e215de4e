"""Streamlit glue for the app: cached loaders, the shared sidebar, session-scoped uploads.

The only module of the library that imports streamlit. Pages call `page()` (page
config + sidebar) and the cached helpers below, and hold layout only.

Caching: corpora with `st.cache_data`; fitted models with `st.cache_resource`, keyed by
the corpus's content hash, the model name, its parameters and the seed, so two users
who pick the same corpus share one fitted model and nothing is ever refitted on a
rerun. Cached objects are read, never changed. Uploads live in `st.session_state`
only, so another session never sees them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from tnaas import audio, charts
from tnaas.corpus import Corpus, bundled_names, load_bundled, manifest, read_upload
from tnaas.errors import NotEnoughNovelItems, TnaasError
from tnaas.generate import generate
from tnaas.lengths import MAX_ITEM_TOKENS, corpus_length, custom_length
from tnaas.models import MODELS, ModelSpec, get_spec
from tnaas.patterns import parse_pattern
from tnaas.tokens import tokenize

PAGES = (
    ("app.py", "Home", "🏠"),
    ("pages/1_Generate.py", "Generate", "🎲"),
    ("pages/2_Complete.py", "Complete", "🧩"),
    ("pages/3_Explore.py", "Explore", "🔍"),
    ("pages/4_Corpora.py", "Corpora", "📚"),
)
MODEL_CACHE_ENTRIES = 24  # fitted models kept for all sessions together: bounds server memory
RESULT_CACHE_ENTRIES = 256  # generated tables, completions, heatmaps: small, cheap to recompute
UPLOADS = "uploads"  # session_state key: {corpus key: Corpus} of this session's uploads
UPLOAD_PREFIX = "upload/"
NATURAL_DRAWS = 2_000  # draws that estimate the model's own length distribution for the chart


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: a corpus and a model with its parameters.

    `params` is a sorted tuple of (name, value) pairs; `seed` seeds fitting for models that
    need it. `key` identifies the fitted model in every cache.
    """

    corpus_key: str
    corpus: Corpus
    spec: ModelSpec
    params: tuple
    seed: int

    @property
    def key(self) -> tuple:
        """(content hash, model name, params, seed): the cache key of the fitted model."""
        return (self.corpus.content_hash, self.spec.name, self.params, self.seed)

    @property
    def unit(self) -> str:
        """The token kind as a unit of length: characters, words or notes."""
        return self.corpus.token_kind

    def describe(self) -> str:
        """One line for captions, e.g. ``Markov chain (state_size=3, smoothing=none) on Pokémon names``."""
        shown = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.spec.title} ({shown}) on {self.corpus.title}"


# ------------------------------------------------------------------ errors
@contextlib.contextmanager
def user_errors():
    """Show a `TnaasError` raised in the block as `st.error` (its message, no traceback)."""
    try:
        yield
    except TnaasError as error:
        st.error(str(error), icon="⚠️")


# ------------------------------------------------------------------ charts
_ALTAIR_DEFAULT_CONFIG = {"view": {"continuousWidth": 300, "continuousHeight": 300}}


def show_chart(chart, where=None) -> None:
    """Draw an Altair chart at full width (in `where`, a container, or the page).

    `st.altair_chart` validates every spec against the Vega-Lite schema, tens of
    milliseconds per chart on every rerun; the builders in `tnaas.charts` are validated by
    their tests instead. Data frames become named datasets, which Streamlit sends as
    Arrow tables (no global Altair data transformer, no row limit).
    """
    datasets: dict[str, pd.DataFrame] = {}
    spec = _with_named_data(chart, datasets).to_dict(validate=False)
    if spec.get("config") == _ALTAIR_DEFAULT_CONFIG:
        del spec["config"]  # Streamlit's theme sizes charts; Altair's 300 x 300 default would fight it
    spec["datasets"] = datasets
    (where or st).vega_lite_chart(spec, width="stretch")


def _with_named_data(node, datasets: dict):
    """A shallow copy of an Altair chart whose data frames (also in layers) are named
    datasets, collected in `datasets` under a name derived from their content."""
    node = node.copy(deep=False)
    data = getattr(node, "data", None)
    if isinstance(data, pd.DataFrame):
        digest = hashlib.sha1(pd.util.hash_pandas_object(data, index=False).values.tobytes())
        digest.update(",".join(map(str, data.columns)).encode())
        name = "data-" + digest.hexdigest()[:16]  # stable across reruns: the chart is not redrawn
        datasets[name] = data
        node.data = alt.NamedData(name=name)
    for part in ("layer", "hconcat", "vconcat", "concat"):
        children = getattr(node, part, None)
        if isinstance(children, list):
            setattr(node, part, [_with_named_data(child, datasets) for child in children])
    return node


# ------------------------------------------------------------------ corpora
@st.cache_data(max_entries=16, show_spinner=False)
def bundled_corpus(name: str) -> Corpus:
    """A bundled corpus by name (cached for all sessions)."""
    return load_bundled(name)


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


def sample_items(corpus: Corpus, k: int, seed: int = 0) -> list[str]:
    """`k` items of `corpus` drawn without replacement (seeded), in corpus order."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(corpus.items), size=min(k, len(corpus.items)), replace=False)
    return [corpus.items[i] for i in sorted(chosen)]


def corpus_by_key(key: str) -> Corpus:
    """A bundled corpus by name, or one of this session's uploads by its key."""
    if key.startswith(UPLOAD_PREFIX):
        return session_uploads()[key]
    return bundled_corpus(key)


def corpus_keys() -> list[str]:
    """Every corpus this session can choose: the bundled ones, then its uploads."""
    return bundled_names() + list(session_uploads())


# ------------------------------------------------------------------ models
def model_status(spec: ModelSpec) -> tuple[bool, str]:
    """(usable, why not): the registry's `available()`, plus whether the module exists yet."""
    ok, why = spec.available()
    if ok and importlib.util.find_spec(spec.module) is None:
        return False, f"the {spec.name} model is not part of this installation (no module {spec.module})"
    return ok, why


class _ProgressBar:
    """A `fit(progress=...)` callback drawing an `st.progress` bar, created on first use."""

    def __init__(self, text: str):
        self.text = text
        self.bar = None

    def __call__(self, fraction: float, message: str = "") -> None:
        value = float(np.clip(fraction, 0.0, 1.0))
        text = f"{self.text}: {message}" if message else self.text
        if self.bar is None:
            self.bar = st.progress(value, text=text)
        else:
            self.bar.progress(value, text=text)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.empty()


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


def _remembered(widget, label: str, key: str, default, options=None, **kwargs):
    """A widget whose value survives page switches.

    Widgets forget their value when the user changes page; the value is kept under
    `key` and handed to the widget (key ``_`` + `key`) on every page.
    """
    value = st.session_state.get(key, default)
    if options is not None and value not in options:
        value = default
    st.session_state[key] = st.session_state["_" + key] = value
    if options is not None:
        kwargs["options"] = options
    return widget(label, key="_" + key, on_change=_keep, args=(key,), **kwargs)


def _hyperparameter_widget(h, spec: ModelSpec, corpus_key: str, corpus: Corpus):
    default = getattr(corpus, h.corpus_default, h.default) if h.corpus_default else h.default
    key = f"hp/{corpus_key}/{spec.name}/{h.name}"
    label = h.name.replace("_", " ").capitalize()
    bar = st.sidebar
    if h.kind == "choice":
        return _remembered(bar.selectbox, label, key, default, options=list(h.choices), help=h.help)
    cast = int if h.kind == "int" else float
    low, high = cast(h.low), cast(h.high)
    if h.kind == "int" and high - low <= 20:
        return _remembered(bar.slider, label, key, cast(default), min_value=low, max_value=high, help=h.help)
    return _remembered(bar.number_input, label, key, cast(default), min_value=low, max_value=high, help=h.help)


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
    corpus_key = _remembered(
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
    status = {name: model_status(spec) for name, spec in MODELS.items()}
    usable = [name for name, (ok, _) in status.items() if ok]
    model_name = _remembered(
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
        seed = _remembered(bar.number_input, "Training seed", f"seed/{model_name}", 0, min_value=0, step=1)
    for name, (ok, why) in status.items():
        if not ok:
            bar.caption(f"🚫 {MODELS[name].title} is unavailable: {why}")
    return Selection(corpus_key, corpus, spec, tuple(sorted(params.items())), int(seed))


def page(title: str, icon: str) -> Selection:
    """Page config (title, icon, wide layout) and the shared sidebar; call first on every page."""
    st.set_page_config(page_title=f"{title} · TNaaS", page_icon=icon, layout="wide")
    return sidebar()


# ------------------------------------------------------------------ lengths
LENGTH_LABELS = {"natural": "natural (the model decides)", "corpus": "as in the corpus", "custom": "custom range"}


def length_controls(corpus: Corpus, key: str) -> tuple:
    """Widgets for the length distribution; returns a hashable spec for `resolve_length`:
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


def resolve_length(spec: tuple):
    """A `length_controls` spec as what models accept: "natural", "corpus" or a distribution."""
    if spec[0] == "custom":
        return custom_length(spec[1], spec[2], spec[3])
    return spec[0]


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)
def target_length_probs(model_key: tuple, length: tuple, _model, _corpus: Corpus) -> tuple[np.ndarray, str]:
    """p(λ) the generator aims at (float (max λ + 1,)) and a label for the chart.

    For `natural` it is estimated from `NATURAL_DRAWS` seeded draws, the same way for every model.
    """
    if length[0] == "corpus":
        return corpus_length(_corpus.lengths).probs, "corpus (target)"
    if length[0] == "custom":
        return resolve_length(length).probs, f"{length[1]}-{length[2]} {length[3]} (target)"
    drawn = _model.sample(NATURAL_DRAWS, random_state=0)
    counts = np.bincount([len(tokenize(item, _corpus.token_kind)) for item in drawn]).astype(float)
    return counts / counts.sum(), f"model's own (estimated from {NATURAL_DRAWS:,} draws)"


# ------------------------------------------------------------------ generation
@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Generating…")
def generated(model_key: tuple, n: int, seed: int, temperature: float, length: tuple, novel: bool, _model):
    """(items, warning): `n` distinct items (new ones only if `novel`); when fewer turn
    up, the ones found and the reason (nothing is lost)."""
    try:
        items = generate(
            _model,
            n,
            random_state=seed,
            temperature=temperature,
            length=resolve_length(length),
            include_existing=not novel,
        )
        return items, ""
    except NotEnoughNovelItems as error:
        return error.items, str(error)


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)
def generation_table(model_key: tuple, items: tuple[str, ...], _model) -> pd.DataFrame:
    """Items with their log-probability (nats, END included) and whether they are new."""
    log_probs = _model.log_prob_many(list(items)) if items else np.zeros(0)
    return pd.DataFrame(
        {
            "item": list(items),
            "log_prob": log_probs,
            "status": ["in corpus" if item in _model.training_items_ else "new" for item in items],
        }
    )


def update_shortlist(shortlist: list[str], edited: pd.DataFrame) -> list[str]:
    """The shortlist after the user's ticks in the `keep` column of `edited` (order kept)."""
    kept = set(edited.loc[edited["keep"], "item"])
    dropped = set(edited.loc[~edited["keep"], "item"])
    result = [item for item in shortlist if item not in dropped]
    return result + [item for item in edited["item"] if item in kept and item not in result]


def item_lengths(items, token_kind: str) -> list[int]:
    """The length in tokens of each item."""
    return [len(tokenize(item, token_kind)) for item in items]


def as_csv(frame: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes (for `st.download_button`)."""
    return frame.to_csv(index=False).encode("utf-8")


def as_txt(items) -> bytes:
    """Items as UTF-8 text, one per line."""
    return "".join(f"{item}\n" for item in items).encode("utf-8")


# ------------------------------------------------------------------ completion and inspection
PATTERN_EXAMPLES = {
    "characters": ("***base", "mo***", "***ly", "*u*a", "mo%", "*A*A", "S%"),
    "words": ("% love %", "The * of %", "* * *", "Quae * * *"),
    "notes": ("D5 * * D5", "G4 A4 B4 * *", "* * * G4", "D4 * * * * D4"),
}


def pattern_examples(corpus: Corpus) -> list[str]:
    """The example patterns whose literal tokens all occur in `corpus` (the talk's first)."""
    vocabulary = set(corpus.vocabulary)
    examples = [
        e
        for e in PATTERN_EXAMPLES[corpus.token_kind]
        if set(parse_pattern(e, corpus.token_kind).literals) <= vocabulary
    ]
    return examples or ["* * *" if corpus.token_kind != "characters" else "***"]


def default_pattern(selection: Selection, model) -> str:
    """The first example pattern that the model can match (else the first example)."""
    examples = pattern_examples(selection.corpus)
    for example in examples:
        try:
            if complete(selection.key, example, 1, 0, 0, ("natural",), 1.0, _model=model).matches:
                return example
        except TnaasError:
            continue
    return examples[0]


def escape_markdown(text: str) -> str:
    """`text` shown literally where Streamlit renders Markdown (pattern stars, underscores)."""
    return "".join("\\" + ch if ch in "\\*_`[]<>#%" else ch for ch in text)


def use_example(pattern_key: str) -> None:
    """Callback of the example pills: copy the chosen example into the pattern box."""
    example = st.session_state.get("complete/example")
    if example:
        st.session_state[pattern_key] = example
        st.session_state["complete/example"] = None


def completion_note(result) -> str:
    """How the answer was computed, in one line (method, length cap, truncation)."""
    note = "Exact: forward-backward over the model and the pattern." if result.method == "exact" else result.method
    if result.truncated_mass > 0:
        note += f" Items longer than {result.max_length} tokens are left out (at most {result.truncated_mass:.2g})."
    if not result.top_complete:
        note += " The top list stopped early: it may miss some completions."
    return note


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner="Computing the exact posterior…")
def complete(model_key: tuple, pattern: str, top: int, samples: int, seed: int, length: tuple, temperature, _model):
    """`model.complete(...)`, cached per model and arguments (a `Completion`)."""
    return _model.complete(
        pattern, top=top, samples=samples, random_state=seed, length=resolve_length(length), temperature=temperature
    )


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)
def heatmaps(model_key: tuple, limit: int, _model):
    """`model.inspect(limit)`, cached per model."""
    return _model.inspect(limit)


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)
def token_frequencies(content_hash: str, top: int, _corpus: Corpus) -> pd.DataFrame:
    """The corpus's `top` most frequent tokens (see `charts.token_frequencies`), cached."""
    return charts.token_frequencies(_corpus.items, _corpus.token_kind, top)


def corpus_stats(corpus: Corpus) -> dict[str, str]:
    """Headline numbers of a corpus, formatted for `st.metric`."""
    lengths = corpus.lengths
    return {
        "items": f"{len(corpus.items):,}",
        "distinct items": f"{len(set(corpus.items)):,}",
        "tokens": f"{int(lengths.sum()):,}",
        "distinct tokens": f"{len(corpus.vocabulary):,}",
        "mean length": f"{lengths.mean():.1f}",
        "longest": f"{int(lengths.max()):,}",
    }


# ------------------------------------------------------------------ notes
@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)
def tune_wav(item: str) -> bytes:
    """The tune synthesised as WAV bytes (cached)."""
    return audio.wav_bytes(item)


def tune_player(items, key: str) -> None:
    """Pick one of `items` (tunes), hear it and see it as a piano roll."""
    items = list(items)
    if not items:
        return
    item = st.selectbox(
        "Tune to play",
        items,
        key=key,
        format_func=lambda s: s if len(s) < 70 else s[:67] + "…",
        help="Notes as written",
    )
    with user_errors():
        st.audio(tune_wav(item), format="audio/wav")
        show_chart(charts.piano_roll_chart(audio.piano_roll(item)))
