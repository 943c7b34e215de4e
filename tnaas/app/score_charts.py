"""Charts of scores: the model comparison (held-out NLL, novelty, diversity) and the quiz's
p(corpus | name), as plain Vega-Lite specs like `tnaas.app.charts` (no altair, no pandas).
Pure functions; nothing here imports streamlit."""

from __future__ import annotations

import math

from tnaas.app.charts import ROW_HEIGHT
from tnaas.app.display import percent
from tnaas.app.vega import channel, chart, rows_high, titled

NOVELTY_COLOUR, DIVERSITY_COLOUR = "#4c78a8", "#f58518"
MEASURES = ("novelty", "diversity")


def infinite_models(rows) -> list[str]:
    """The models whose held-out NLL is infinite (some test item has probability 0)."""
    return [row.model for row in rows if math.isinf(row.nll_per_token)]


def nll_records(rows) -> list[dict]:
    """The `ComparisonRow`s with a finite held-out NLL, in order: model, nll_per_token,
    perplexity, fit_seconds (what the NLL chart draws)."""
    return [
        {"model": row.model, "nll_per_token": row.nll_per_token, "perplexity": row.perplexity,
         "fit_seconds": row.fit_seconds}
        for row in rows
        if math.isfinite(row.nll_per_token)
    ]  # fmt: skip


def nll_chart(rows) -> dict:
    """Horizontal bars: held-out NLL per token (nats) of each model with a finite one, best
    (lowest) first; models with an infinite NLL are named in the subtitle, not drawn."""
    infinite = infinite_models(rows)
    title = titled(
        "Held-out NLL per token (nats, lower is better)",
        f"∞, not drawn: {', '.join(infinite)}" if infinite else None,
    )
    encoding = {
        "x": channel("nll_per_token", "quantitative", title="negative log-likelihood per token (nats)"),
        "y": channel("model", "nominal", title="model", sort="x", axis={"labelLimit": 0}),
        "tooltip": [
            channel("model", "nominal"),
            channel("nll_per_token", "quantitative", title="NLL per token (nats)", format=".4f"),
            channel("perplexity", "quantitative", format=".3f"),
            channel("fit_seconds", "quantitative", title="fit time (s)", format=".2f"),
        ],
    }
    # The value written inside the end of each bar: bars start at 0 and NLLs are > 1 nat, so it fits.
    labels = {
        "mark": {"type": "text", "align": "right", "dx": -4, "color": "white"},
        "encoding": {**encoding, "text": channel("nll_per_token", "quantitative", format=".3f")},
    }
    bars = {"mark": {"type": "bar"}, "encoding": encoding}
    return chart(nll_records(rows), [bars, labels], title, rows_high(ROW_HEIGHT * 1.5))


def novelty_diversity_records(rows) -> list[dict]:
    """Long form for the grouped bars: model, measure ("novelty" or "diversity"), share;
    every model's novelty first, then every model's diversity.

    Unavailable models (NaN scores) are left out.
    """
    return [
        {"model": row.model, "measure": measure, "share": getattr(row, measure)}
        for measure in MEASURES
        for row in rows
        if not math.isnan(getattr(row, measure))
    ]


def novelty_diversity_chart(rows, samples: int) -> dict:
    """Grouped horizontal bars per model: novelty (share of distinct samples not in the
    training part) and diversity (distinct samples / samples), of `samples` samples each."""
    data = novelty_diversity_records(rows)
    order = list(dict.fromkeys(r["model"] for r in data))
    encoding = {
        "x": channel("share", "quantitative", title="share of samples", axis={"format": "%"}, scale={"domain": [0, 1]}),
        "y": channel("model", "nominal", title="model", sort=order, axis={"labelLimit": 0}),
        "yOffset": channel("measure", "nominal", sort=list(MEASURES)),
        "color": {
            "field": "measure",
            "type": "nominal",
            "title": None,
            "sort": list(MEASURES),
            "scale": {"domain": list(MEASURES), "range": [NOVELTY_COLOUR, DIVERSITY_COLOUR]},
            "legend": {"orient": "top"},
        },
        "tooltip": [
            channel("model", "nominal"),
            channel("measure", "nominal"),
            channel("share", "quantitative", format=".1%"),
        ],
    }
    title = f"Novelty and diversity of {samples:,} samples per model"
    return chart(data, [{"mark": {"type": "bar"}, "encoding": encoding}], title, rows_high(ROW_HEIGHT))


def sounds_like_records(probabilities: dict[str, float], titles: dict[str, str]) -> list[dict]:
    """p(corpus | name) as rows, most probable first: corpus (name), title, probability,
    shown (the probability as the page writes it) and label (title and shown, the axis label:
    a bar of 0.00001 cannot be seen, its number can)."""
    ordered = sorted(probabilities.items(), key=lambda kv: -kv[1])
    data = []
    for name, p in ordered:
        title, shown = titles.get(name, name), percent(p)
        data.append({"corpus": name, "title": title, "probability": p, "shown": shown, "label": f"{title}  {shown}"})
    return data


def sounds_like_chart(probabilities: dict[str, float], titles: dict[str, str], name: str) -> dict:
    """Horizontal bars: p(corpus | `name`) for each corpus (equal priors), most probable first."""
    data = sounds_like_records(probabilities, titles)
    encoding = {
        "x": channel(
            "probability", "quantitative", title="p(corpus | name)", axis={"format": "%"}, scale={"domain": [0, 1]}
        ),
        "y": channel("label", "nominal", title="corpus", sort=[r["label"] for r in data], axis={"labelLimit": 0}),
        "tooltip": [channel("title", "nominal", title="corpus"), channel("shown", "nominal", title="probability")],
    }
    title = f"Which corpus does {name.strip().casefold()!r} sound like?"
    return chart(data, [{"mark": {"type": "bar"}, "encoding": encoding}], title, rows_high(ROW_HEIGHT * 1.5))
