"""Altair charts for the app: pure functions from data or results to an `alt.Chart`.

Every chart has a title, axis titles and tooltips; widths are left to the page
(`st.altair_chart(chart, width="stretch")`). Charts with a row per category get a fixed
height per row (`alt.Step`), so labels stay legible however many rows there are; the
others get a total height (Streamlit counts titles and axes in it).
Nothing here imports streamlit, so the charts can be tested and reused elsewhere.
"""

from __future__ import annotations

from collections import Counter

import altair as alt
import numpy as np
import pandas as pd

from tnaas.data.tokens import tokenize
from tnaas.inference.completion import END_KEY, Completion
from tnaas.models.base import Heatmap

ROW_HEIGHT = 20  # pixels per row of a heatmap or horizontal bar chart: labels stay legible
CHART_HEIGHT = 300  # pixels, title and axes included, for charts with a quantitative y axis
PROBABILITY_FORMAT = ".3g"
MAX_POSITIONS, MAX_COLUMNS = 30, 30  # a posterior heatmap larger than this is not read, only scrolled
ENDED = 0.999  # a position where the item has ended with this probability is not drawn
TAIL_SHOWN = 0.995  # the length axis ends where the target has this much of its mass
GENERATED_COLOUR, TARGET_COLOUR = "#4c78a8", "#f58518"  # blue bars, orange line: apart for colour-blind eyes too


def _rows() -> alt.Step:
    return alt.Step(ROW_HEIGHT)


def _token_axis(labels) -> alt.Axis:
    """Every token labelled; horizontal when tokens are short (characters), slanted when long (words)."""
    short = max((len(str(label)) for label in labels if label != END_KEY), default=0) <= 2
    return alt.Axis(labelAngle=0 if short else -45, labelOverlap=False)


def show_token(token: str) -> str:
    """A token as a readable axis label: a space becomes `␣`, END stays `<end>`."""
    return "␣" if token == " " else token


def heatmap_chart(heatmap: Heatmap) -> alt.Chart:
    """A model's matrix (`Heatmap`: long-form row, column, value) as a colour grid.

    Rows keep the model's order (most frequent state first); columns are ordered by
    their total probability, with the end marker last.
    """
    data = heatmap.data.copy()
    data["column"] = data["column"].map(show_token)
    rows = list(dict.fromkeys(data["row"]))
    mass = data.groupby("column")["value"].sum().sort_values(ascending=False)
    columns = [c for c in mass.index if c != END_KEY] + ([END_KEY] if END_KEY in mass.index else [])
    return (
        alt.Chart(data, title=heatmap.title)
        .mark_rect()
        .encode(
            x=alt.X("column:N", title=heatmap.column_title, sort=columns, axis=_token_axis(columns)),
            y=alt.Y("row:N", title=heatmap.row_title, sort=rows),
            color=alt.Color("value:Q", title="probability", scale=alt.Scale(scheme="blues")),
            tooltip=[
                alt.Tooltip("row:N", title=heatmap.row_title),
                alt.Tooltip("column:N", title=heatmap.column_title),
                alt.Tooltip("value:Q", title="probability", format=PROBABILITY_FORMAT),
            ],
        )
        .properties(height=_rows())
    )


def shown_positions(completion: Completion, max_positions: int = MAX_POSITIONS) -> list[dict]:
    """The unknown positions worth drawing: the first `max_positions` of those where the
    item has not almost surely ended (a gap pattern has a position for every length)."""
    live = [p for p in completion.positions if p["distribution"].get(END_KEY, 0.0) < ENDED]
    return live[:max_positions]


def posterior_frame(
    completion: Completion, top_tokens: int = 12, max_positions: int = MAX_POSITIONS, max_columns: int = MAX_COLUMNS
) -> pd.DataFrame:
    """The posterior of each shown unknown position (see `shown_positions`), long form:
    position (counted from 0, as the CLI and the JSON answers count), token, probability. Per position only its `top_tokens` most
    probable tokens, and over all positions the `max_columns` tokens of largest total mass."""
    rows = []
    for position in shown_positions(completion, max_positions):
        label = f"position {position['index']}"
        for token, p in list(position["distribution"].items())[:top_tokens]:
            rows.append((label, show_token(token), p))
    data = pd.DataFrame(rows, columns=["position", "token", "probability"])
    kept = data.groupby("token")["probability"].sum().nlargest(max_columns).index
    return data[data["token"].isin(kept)].reset_index(drop=True)


def posterior_chart(completion: Completion, top_tokens: int = 12, max_positions: int = MAX_POSITIONS) -> alt.Chart:
    """Heatmap of p(token at position | the item matches the pattern): unknown position x token
    (see `posterior_frame` for which positions and tokens are drawn)."""
    data = posterior_frame(completion, top_tokens, max_positions)
    order = data.groupby("token")["probability"].sum().sort_values(ascending=False).index.tolist()
    rows = list(dict.fromkeys(data["position"]))
    title = f"Posterior of each unknown position given {completion.pattern!r}"
    if len(rows) < len(completion.positions):
        title = alt.Title(title, subtitle=f"the first {len(rows)} of {len(completion.positions)} unknown positions")
    return (
        alt.Chart(data, title=title)
        .mark_rect()
        .encode(
            x=alt.X("token:N", title="token", sort=order, axis=_token_axis(order)),
            y=alt.Y("position:N", title="position in the item", sort=rows),
            color=alt.Color("probability:Q", title="probability", scale=alt.Scale(scheme="oranges")),
            tooltip=[
                alt.Tooltip("position:N"),
                alt.Tooltip("token:N"),
                alt.Tooltip("probability:Q", format=PROBABILITY_FORMAT),
            ],
        )
        .properties(height=alt.Step(2 * ROW_HEIGHT if len(rows) <= 8 else ROW_HEIGHT))
    )


def top_completions_chart(completion: Completion) -> alt.Chart:
    """Horizontal bars: the most probable matches and p(item | pattern)."""
    data = pd.DataFrame(completion.top, columns=["text", "probability"])
    return (
        alt.Chart(data, title="Most probable completions")
        .mark_bar()
        .encode(
            x=alt.X("probability:Q", title="p(item | pattern)"),
            y=alt.Y("text:N", title="completion", sort="-x"),
            tooltip=[
                alt.Tooltip("text:N", title="completion"),
                alt.Tooltip("probability:Q", format=PROBABILITY_FORMAT),
            ],
        )
        .properties(height=_rows())
    )


def _half_width(longest: int) -> float:
    """Half the width of a bar on a numeric length axis: 0.4 of a token, wider on long axes
    (hundreds of notes) so that bars stay visible."""
    return max(0.4, longest / 300)


def _quantile_length(probs: np.ndarray | None, mass: float) -> int:
    """The shortest length by which `probs` (p(λ), float (max λ + 1,)) has `mass`; 1 for None."""
    if probs is None or not np.sum(probs):
        return 1
    return int(np.searchsorted(np.cumsum(probs) / np.sum(probs), mass))


def length_frame(target: np.ndarray | None, generated_lengths, target_label: str = "target") -> pd.DataFrame:
    """Long-form length shares: length (tokens), share (fraction of items), series.

    `target` is p(λ) indexed by length (float (max λ + 1,)) or None; `generated_lengths`
    are the lengths of the generated items (ints).
    """
    frames = []
    if target is not None:
        target = np.asarray(target, dtype=np.float64)
        lengths = np.flatnonzero(target)
        frames.append(pd.DataFrame({"length": lengths, "share": target[lengths], "series": target_label}))
    generated = np.asarray(list(generated_lengths), dtype=np.int64)
    if len(generated):
        counts = np.bincount(generated)
        lengths = np.flatnonzero(counts)
        frames.append(
            pd.DataFrame({"length": lengths, "share": counts[lengths] / len(generated), "series": "generated"})
        )
    if not frames:
        return pd.DataFrame(columns=["length", "share", "series"])
    return pd.concat(frames, ignore_index=True)


def length_comparison_chart(target: np.ndarray | None, generated_lengths, unit: str, target_label: str) -> alt.Chart:
    """The target length distribution (line) against the lengths actually generated (bars)."""
    data = length_frame(target, generated_lengths, target_label)
    x_title = f"length ({unit})"
    generated = data.loc[data["series"] == "generated", "length"]
    right = max(int(generated.max()) if len(generated) else 1, _quantile_length(target, TAIL_SHOWN))
    x_scale = alt.Scale(domain=[0, right + 1])  # a long, thin target tail would squeeze the bars
    half = _half_width(right)
    base = alt.Chart(data).encode(
        y=alt.Y("share:Q", title="share of items", axis=alt.Axis(format="%")),
        color=alt.Color(
            "series:N",
            title=None,
            scale=alt.Scale(domain=["generated", target_label], range=[GENERATED_COLOUR, TARGET_COLOUR]),
            legend=alt.Legend(orient="top", labelLimit=0),
        ),
        tooltip=[
            alt.Tooltip("series:N"),
            alt.Tooltip("length:Q", title=x_title),
            alt.Tooltip("share:Q", format=".1%"),
        ],
    )
    bars = (
        base.transform_filter(alt.datum.series == "generated")
        .transform_calculate(low=f"datum.length - {half}", high=f"datum.length + {half}")
        .mark_bar(opacity=0.6, clip=True)
        .encode(
            x=alt.X("low:Q", title=x_title, scale=x_scale, axis=alt.Axis(tickMinStep=1)), x2="high:Q", y2=alt.datum(0)
        )
    )
    line = (
        base.transform_filter(alt.datum.series != "generated")
        .mark_line(point=True, clip=True)
        .encode(x=alt.X("length:Q", title=x_title, scale=x_scale))
    )
    return alt.layer(bars, line).properties(
        title="Target length distribution vs generated lengths", height=CHART_HEIGHT
    )


def length_histogram_chart(lengths, unit: str) -> alt.Chart:
    """How many corpus items have each length (bars)."""
    counts = np.bincount(np.asarray(lengths, dtype=np.int64))
    present = np.flatnonzero(counts)
    data = pd.DataFrame({"length": present, "items": counts[present]})
    half = _half_width(int(present.max()) if len(present) else 1)
    return (
        alt.Chart(data, title="Length distribution of the corpus")
        .transform_calculate(low=f"datum.length - {half}", high=f"datum.length + {half}")
        .mark_bar()
        .encode(
            x=alt.X("low:Q", title=f"length ({unit})", axis=alt.Axis(tickMinStep=1)),
            x2="high:Q",
            y=alt.Y("items:Q", title="items"),
            y2=alt.datum(0),
            tooltip=[alt.Tooltip("length:Q", title=f"length ({unit})"), alt.Tooltip("items:Q")],
        )
        .properties(height=CHART_HEIGHT)
    )


def distribution_frame(distribution: dict[str, float], top: int = 25) -> pd.DataFrame:
    """A {token: probability} dict as a frame of its `top` largest entries (token, probability)."""
    items = sorted(distribution.items(), key=lambda kv: -kv[1])[:top]
    return pd.DataFrame([(show_token(t), p) for t, p in items], columns=["token", "probability"])


def next_token_chart(distribution: dict[str, float], context: str, top: int = 25) -> alt.Chart:
    """Horizontal bars: p(next token | the item starts with `context`)."""
    data = distribution_frame(distribution, top)
    shown = repr(context) if context else "the start of an item"
    return (
        alt.Chart(data, title=f"Next token after {shown}")
        .mark_bar()
        .encode(
            x=alt.X("probability:Q", title="p(next token | context)"),
            y=alt.Y("token:N", title="next token", sort="-x"),
            tooltip=[alt.Tooltip("token:N"), alt.Tooltip("probability:Q", format=PROBABILITY_FORMAT)],
        )
        .properties(height=_rows())
    )


def token_frequencies(items, token_kind: str, top: int = 25) -> pd.DataFrame:
    """The `top` most frequent tokens of `items`: token, count, share (of all tokens)."""
    counts = Counter(t for item in items for t in tokenize(item, token_kind))
    total = sum(counts.values()) or 1
    rows = [(show_token(t), c, c / total) for t, c in counts.most_common(top)]
    return pd.DataFrame(rows, columns=["token", "count", "share"])


def token_frequency_chart(frequencies: pd.DataFrame, noun: str) -> alt.Chart:
    """Horizontal bars of the most frequent tokens (`frequencies` from `token_frequencies`)."""
    return (
        alt.Chart(frequencies, title=f"The {len(frequencies)} most frequent {noun}")
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title="occurrences"),
            y=alt.Y("token:N", title=noun, sort="-x"),
            tooltip=[alt.Tooltip("token:N", title=noun), alt.Tooltip("count:Q"), alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=_rows())
    )


def piano_roll_chart(roll: pd.DataFrame, title: str = "Piano roll") -> alt.Chart:
    """A tune as bars on a time x pitch grid (`roll` from `tnaas.app.audio.piano_roll`)."""
    low, high = int(roll["midi"].min()), int(roll["midi"].max())
    return (
        alt.Chart(roll, title=title)
        .mark_bar(height=6, cornerRadius=2)
        .encode(
            x=alt.X("start:Q", title="time (seconds)"),
            x2="end:Q",
            y=alt.Y("midi:Q", title="pitch (MIDI number)", scale=alt.Scale(domain=[low - 1, high + 1])),
            color=alt.Color("midi:Q", legend=None, scale=alt.Scale(scheme="viridis")),
            tooltip=[
                alt.Tooltip("step:Q", title="note #"),
                alt.Tooltip("note:N"),
                alt.Tooltip("start:Q", format=".2f"),
            ],
        )
        .properties(height=max(CHART_HEIGHT, 10 * (high - low + 3) + 100))
    )
