"""The app's charts: pure functions from data or results to a Vega-Lite spec (a plain dict).

Every chart has a title, axis titles and tooltips; widths are left to the page
(`dashboard.show_chart` draws at full width). Charts with a row per category get a fixed
height per row (a step), so labels stay legible however many rows there are; the
others get a total height (Streamlit counts titles and axes in it).
The specs are plain dicts with their data inline (`tnaas.app.vega`): drawing one needs
neither altair nor pandas nor pyarrow. Nothing here imports streamlit, so the charts can
be tested and reused elsewhere.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from tnaas.app.vega import channel, chart, rows_high, titled
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


def _token_axis(labels) -> dict:
    """Every token labelled; horizontal when tokens are short (characters), slanted when long (words)."""
    short = max((len(str(label)) for label in labels if label != END_KEY), default=0) <= 2
    return {"labelAngle": 0 if short else -45, "labelOverlap": False}


def _by_total(pairs) -> list[str]:
    """The keys of (key, amount) pairs by their total amount, largest first (ties: by key)."""
    totals: dict[str, float] = {}
    for key, amount in pairs:
        totals[key] = totals.get(key, 0.0) + amount
    return sorted(totals, key=lambda key: (-totals[key], key))


def show_token(token: str) -> str:
    """A token as a readable axis label: a space becomes `␣`, END stays `<end>`."""
    return "␣" if token == " " else token


def heatmap_records(heatmap: Heatmap) -> list[dict]:
    """A `Heatmap`'s records as chart rows: row, column (as `show_token` writes it), value."""
    return [{"row": row, "column": show_token(column), "value": value} for row, column, value in heatmap.records]


def heatmap_chart(heatmap: Heatmap) -> dict:
    """A model's matrix (`Heatmap`: long-form row, column, value) as a colour grid.

    Rows keep the model's order (most frequent state first); columns are ordered by
    their total probability, with the end marker last.
    """
    data = heatmap_records(heatmap)
    rows = list(dict.fromkeys(r["row"] for r in data))
    mass = _by_total((r["column"], r["value"]) for r in data)
    columns = [c for c in mass if c != END_KEY] + ([END_KEY] if END_KEY in mass else [])
    encoding = {
        "x": channel("column", "nominal", title=heatmap.column_title, sort=columns, axis=_token_axis(columns)),
        "y": channel("row", "nominal", title=heatmap.row_title, sort=rows),
        "color": channel("value", "quantitative", title="probability", scale={"scheme": "blues"}),
        "tooltip": [
            channel("row", "nominal", title=heatmap.row_title),
            channel("column", "nominal", title=heatmap.column_title),
            channel("value", "quantitative", title="probability", format=PROBABILITY_FORMAT),
        ],
    }
    return chart(data, [{"mark": {"type": "rect"}, "encoding": encoding}], heatmap.title, rows_high(ROW_HEIGHT))


def shown_positions(completion: Completion, max_positions: int = MAX_POSITIONS) -> list[dict]:
    """The unknown positions worth drawing: the first `max_positions` of those where the
    item has not almost surely ended (a gap pattern has a position for every length)."""
    live = [p for p in completion.positions if p["distribution"].get(END_KEY, 0.0) < ENDED]
    return live[:max_positions]


def posterior_records(
    completion: Completion, top_tokens: int = 12, max_positions: int = MAX_POSITIONS, max_columns: int = MAX_COLUMNS
) -> list[dict]:
    """The posterior of each shown unknown position (see `shown_positions`), long form:
    position (counted from 0, as the CLI and the JSON answers count), token, probability. Per
    position only its `top_tokens` most probable tokens, and over all positions the
    `max_columns` tokens of largest total mass."""
    data = []
    for position in shown_positions(completion, max_positions):
        label = f"position {position['index']}"
        for token, p in list(position["distribution"].items())[:top_tokens]:
            data.append({"position": label, "token": show_token(token), "probability": p})
    kept = set(_by_total((r["token"], r["probability"]) for r in data)[:max_columns])
    return [r for r in data if r["token"] in kept]


def posterior_chart(completion: Completion, top_tokens: int = 12, max_positions: int = MAX_POSITIONS) -> dict:
    """Heatmap of p(token at position | the item matches the pattern): unknown position x token
    (see `posterior_records` for which positions and tokens are drawn)."""
    data = posterior_records(completion, top_tokens, max_positions)
    order = _by_total((r["token"], r["probability"]) for r in data)
    rows = list(dict.fromkeys(r["position"] for r in data))
    title = f"Posterior of each unknown position given {completion.pattern!r}"
    if len(rows) < len(completion.positions):
        title = titled(title, f"the first {len(rows)} of {len(completion.positions)} unknown positions")
    encoding = {
        "x": channel("token", "nominal", title="token", sort=order, axis=_token_axis(order)),
        "y": channel("position", "nominal", title="position in the item", sort=rows),
        "color": channel("probability", "quantitative", title="probability", scale={"scheme": "oranges"}),
        "tooltip": [
            channel("position", "nominal"),
            channel("token", "nominal"),
            channel("probability", "quantitative", format=PROBABILITY_FORMAT),
        ],
    }
    height = rows_high(2 * ROW_HEIGHT if len(rows) <= 8 else ROW_HEIGHT)
    return chart(data, [{"mark": {"type": "rect"}, "encoding": encoding}], title, height)


def top_completions_chart(completion: Completion) -> dict:
    """Horizontal bars: the most probable matches and p(item | pattern)."""
    data = [{"text": t["text"], "probability": t["probability"]} for t in completion.top]
    encoding = {
        "x": channel("probability", "quantitative", title="p(item | pattern)"),
        "y": channel("text", "nominal", title="completion", sort="-x"),
        "tooltip": [
            channel("text", "nominal", title="completion"),
            channel("probability", "quantitative", format=PROBABILITY_FORMAT),
        ],
    }
    return chart(
        data, [{"mark": {"type": "bar"}, "encoding": encoding}], "Most probable completions", rows_high(ROW_HEIGHT)
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


def _bar_span(half: float) -> list[dict]:
    """Transforms giving each row's bar its ends, low and high: `half` either side of its length."""
    return [
        {"calculate": f"datum.length - {half}", "as": "low"},
        {"calculate": f"datum.length + {half}", "as": "high"},
    ]


def length_records(target: np.ndarray | None, generated_lengths, target_label: str = "target") -> list[dict]:
    """Long-form length shares: length (tokens), share (fraction of items), series; the
    target's rows first.

    `target` is p(λ) indexed by length (float (max λ + 1,)) or None; `generated_lengths`
    are the lengths of the generated items (ints).
    """
    data = []
    if target is not None:
        target = np.asarray(target, dtype=np.float64)
        for length in np.flatnonzero(target).tolist():
            data.append({"length": length, "share": float(target[length]), "series": target_label})
    generated = np.asarray(list(generated_lengths), dtype=np.int64)
    if len(generated):
        counts = np.bincount(generated)
        for length in np.flatnonzero(counts).tolist():
            data.append({"length": length, "share": float(counts[length] / len(generated)), "series": "generated"})
    return data


def length_comparison_chart(target: np.ndarray | None, generated_lengths, unit: str, target_label: str) -> dict:
    """The target length distribution (line) against the lengths actually generated (bars)."""
    data = length_records(target, generated_lengths, target_label)
    x_title = f"length ({unit})"
    generated = [r["length"] for r in data if r["series"] == "generated"]
    right = max(max(generated, default=1), _quantile_length(target, TAIL_SHOWN))
    x_scale = {"domain": [0, right + 1]}  # a long, thin target tail would squeeze the bars
    shared = {
        "y": channel("share", "quantitative", title="share of items", axis={"format": "%"}),
        "color": {
            "field": "series",
            "type": "nominal",
            "title": None,
            "scale": {"domain": ["generated", target_label], "range": [GENERATED_COLOUR, TARGET_COLOUR]},
            "legend": {"orient": "top", "labelLimit": 0},
        },
        "tooltip": [
            channel("series", "nominal"),
            channel("length", "quantitative", title=x_title),
            channel("share", "quantitative", format=".1%"),
        ],
    }
    bars = {
        "mark": {"type": "bar", "opacity": 0.6, "clip": True},
        "encoding": {
            **shared,
            "x": channel("low", "quantitative", title=x_title, scale=x_scale, axis={"tickMinStep": 1}),
            "x2": {"field": "high"},
            "y2": {"datum": 0},
        },
        "transform": [{"filter": "datum.series === 'generated'"}, *_bar_span(_half_width(right))],
    }
    line = {
        "mark": {"type": "line", "point": True, "clip": True},
        "encoding": {**shared, "x": channel("length", "quantitative", title=x_title, scale=x_scale)},
        "transform": [{"filter": "datum.series !== 'generated'"}],
    }
    return chart(data, [bars, line], "Target length distribution vs generated lengths", CHART_HEIGHT)


def length_histogram_chart(lengths, unit: str) -> dict:
    """How many corpus items have each length (bars)."""
    counts = np.bincount(np.asarray(lengths, dtype=np.int64))
    present = np.flatnonzero(counts).tolist()
    data = [{"length": length, "items": int(counts[length])} for length in present]
    encoding = {
        "x": channel("low", "quantitative", title=f"length ({unit})", axis={"tickMinStep": 1}),
        "x2": {"field": "high"},
        "y": channel("items", "quantitative", title="items"),
        "y2": {"datum": 0},
        "tooltip": [channel("length", "quantitative", title=f"length ({unit})"), channel("items", "quantitative")],
    }
    bars = {"mark": {"type": "bar"}, "encoding": encoding, "transform": _bar_span(_half_width(max(present, default=1)))}
    return chart(data, [bars], "Length distribution of the corpus", CHART_HEIGHT)


def distribution_records(distribution: dict[str, float], top: int = 25) -> list[dict]:
    """A {token: probability} dict as rows of its `top` largest entries (token, probability)."""
    items = sorted(distribution.items(), key=lambda kv: -kv[1])[:top]
    return [{"token": show_token(t), "probability": p} for t, p in items]


def next_token_chart(distribution: dict[str, float], context: str, top: int = 25) -> dict:
    """Horizontal bars: p(next token | the item starts with `context`)."""
    data = distribution_records(distribution, top)
    shown = repr(context) if context else "the start of an item"
    encoding = {
        "x": channel("probability", "quantitative", title="p(next token | context)"),
        "y": channel("token", "nominal", title="next token", sort="-x"),
        "tooltip": [channel("token", "nominal"), channel("probability", "quantitative", format=PROBABILITY_FORMAT)],
    }
    return chart(
        data, [{"mark": {"type": "bar"}, "encoding": encoding}], f"Next token after {shown}", rows_high(ROW_HEIGHT)
    )


def token_frequencies(items, token_kind: str, top: int = 25) -> list[dict]:
    """The `top` most frequent tokens of `items`: rows of token, count, share (of all tokens)."""
    counts = Counter(t for item in items for t in tokenize(item, token_kind))
    total = sum(counts.values()) or 1
    return [{"token": show_token(t), "count": c, "share": c / total} for t, c in counts.most_common(top)]


def token_frequency_chart(frequencies: list[dict], noun: str) -> dict:
    """Horizontal bars of the most frequent tokens (`frequencies` from `token_frequencies`)."""
    encoding = {
        "x": channel("count", "quantitative", title="occurrences"),
        "y": channel("token", "nominal", title=noun, sort="-x"),
        "tooltip": [
            channel("token", "nominal", title=noun),
            channel("count", "quantitative"),
            channel("share", "quantitative", format=".1%"),
        ],
    }
    title = f"The {len(frequencies)} most frequent {noun}"
    return chart(frequencies, [{"mark": {"type": "bar"}, "encoding": encoding}], title, rows_high(ROW_HEIGHT))


def piano_roll_chart(roll: list[dict], title: str = "Piano roll") -> dict:
    """A tune as bars on a time x pitch grid (`roll` from `tnaas.app.audio.piano_roll_notes`)."""
    pitches = [note["midi"] for note in roll]
    low, high = min(pitches), max(pitches)
    encoding = {
        "x": channel("start", "quantitative", title="time (seconds)"),
        "x2": {"field": "end"},
        "y": channel("midi", "quantitative", title="pitch (MIDI number)", scale={"domain": [low - 1, high + 1]}),
        "color": {"field": "midi", "type": "quantitative", "legend": None, "scale": {"scheme": "viridis"}},
        "tooltip": [
            channel("step", "quantitative", title="note #"),
            channel("note", "nominal"),
            channel("start", "quantitative", format=".2f"),
        ],
    }
    bars = {"mark": {"type": "bar", "height": 6, "cornerRadius": 2}, "encoding": encoding}
    return chart(roll, [bars], title, max(CHART_HEIGHT, 10 * (high - low + 3) + 100))
