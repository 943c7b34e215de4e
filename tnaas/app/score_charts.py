"""Altair charts of scores: the model comparison (held-out NLL, novelty, diversity) and the
quiz's p(corpus | name). Pure functions like `tnaas.app.charts`; nothing here imports streamlit."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from tnaas.app.charts import ROW_HEIGHT
from tnaas.app.display import percent
from tnaas.app.tables import comparison_frame

NOVELTY_COLOUR, DIVERSITY_COLOUR = "#4c78a8", "#f58518"


def infinite_models(rows) -> list[str]:
    """The models whose held-out NLL is infinite (some test item has probability 0)."""
    return [row.model for row in rows if math.isinf(row.nll_per_token)]


def nll_chart(rows) -> alt.Chart:
    """Horizontal bars: held-out NLL per token (nats) of each model with a finite one, best
    (lowest) first; models with an infinite NLL are named in the subtitle, not drawn."""
    data = comparison_frame(rows)
    data = data[data["nll_per_token"].map(math.isfinite)][["model", "nll_per_token", "perplexity", "fit_seconds"]]
    title = "Held-out NLL per token (nats, lower is better)"
    infinite = infinite_models(rows)
    if infinite:
        title = alt.Title(title, subtitle=f"∞, not drawn: {', '.join(infinite)}")
    base = alt.Chart(data).encode(
        x=alt.X("nll_per_token:Q", title="negative log-likelihood per token (nats)"),
        y=alt.Y("model:N", title="model", sort="x", axis=alt.Axis(labelLimit=0)),
        tooltip=[
            alt.Tooltip("model:N"),
            alt.Tooltip("nll_per_token:Q", title="NLL per token (nats)", format=".4f"),
            alt.Tooltip("perplexity:Q", format=".3f"),
            alt.Tooltip("fit_seconds:Q", title="fit time (s)", format=".2f"),
        ],
    )
    # The value written inside the end of each bar: bars start at 0 and NLLs are > 1 nat, so it fits.
    labels = base.mark_text(align="right", dx=-4, color="white").encode(text=alt.Text("nll_per_token:Q", format=".3f"))
    return alt.layer(base.mark_bar(), labels).properties(title=title, height=alt.Step(ROW_HEIGHT * 1.5))


def novelty_diversity_frame(rows) -> pd.DataFrame:
    """Long form for the grouped bars: model, measure ("novelty" or "diversity"), share.

    Unavailable models (NaN scores) are left out.
    """
    data = comparison_frame(rows).melt(
        id_vars="model", value_vars=["novelty", "diversity"], var_name="measure", value_name="share"
    )
    return data.dropna(subset=["share"]).reset_index(drop=True)


def novelty_diversity_chart(rows, samples: int) -> alt.Chart:
    """Grouped horizontal bars per model: novelty (share of distinct samples not in the
    training part) and diversity (distinct samples / samples), of `samples` samples each."""
    data = novelty_diversity_frame(rows)
    order = list(dict.fromkeys(data["model"]))
    return (
        alt.Chart(data, title=f"Novelty and diversity of {samples:,} samples per model")
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title="share of samples", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("model:N", title="model", sort=order, axis=alt.Axis(labelLimit=0)),
            yOffset=alt.YOffset("measure:N", sort=["novelty", "diversity"]),
            color=alt.Color(
                "measure:N",
                title=None,
                sort=["novelty", "diversity"],
                scale=alt.Scale(domain=["novelty", "diversity"], range=[NOVELTY_COLOUR, DIVERSITY_COLOUR]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[alt.Tooltip("model:N"), alt.Tooltip("measure:N"), alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=alt.Step(ROW_HEIGHT))
    )


def posterior_frame(probabilities: dict[str, float], titles: dict[str, str]) -> pd.DataFrame:
    """p(corpus | name) as a frame, most probable first: corpus (name), title, probability,
    shown (the probability as the page writes it) and label (title and shown, the axis label:
    a bar of 0.00001 cannot be seen, its number can)."""
    ordered = sorted(probabilities.items(), key=lambda kv: -kv[1])
    data = pd.DataFrame(
        [(name, titles.get(name, name), p, percent(p)) for name, p in ordered],
        columns=["corpus", "title", "probability", "shown"],
    )
    data["label"] = data["title"] + "  " + data["shown"]
    return data


def sounds_like_chart(probabilities: dict[str, float], titles: dict[str, str], name: str) -> alt.Chart:
    """Horizontal bars: p(corpus | `name`) for each corpus (equal priors), most probable first."""
    data = posterior_frame(probabilities, titles)
    return (
        alt.Chart(data, title=f"Which corpus does {name.strip().casefold()!r} sound like?")
        .mark_bar()
        .encode(
            x=alt.X(
                "probability:Q",
                title="p(corpus | name)",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("label:N", title="corpus", sort=data["label"].tolist(), axis=alt.Axis(labelLimit=0)),
            tooltip=[alt.Tooltip("title:N", title="corpus"), alt.Tooltip("shown:N", title="probability")],
        )
        .properties(height=alt.Step(ROW_HEIGHT * 1.5))
    )
