"""Compare: models side by side on one corpus — held-out NLL, novelty, diversity, fit time."""

import math

import streamlit as st

from tnaas.app import dashboard, lineup

selection = dashboard.page("Compare", "⚖️")
corpus = selection.corpus
st.title("⚖️ Compare models")
st.caption(f"On {corpus.title} (the sidebar's corpus; the sidebar's model is not used here).")
st.markdown(
    "Every model is fitted on the same training part and scored on the same held-out items: "
    "**NLL per token** (nats, lower is better: how surprised the model is by items it never saw), "
    "**novelty** (share of distinct samples that are not training items), **diversity** "
    "(distinct samples / samples) and **fit time**."
)

menu = lineup.comparison_menu()
status = {name: spec.available() for name, spec in dashboard.MODELS.items()}
picked = dashboard.remembered(
    st.multiselect,
    "Models",
    "compare/models",
    lineup.default_labels(menu),
    options=list(menu),
    format_func=lambda label: label if status[menu[label].name][0] else f"{label} (unavailable)",
    help="Markov chains at several state sizes k, with and without Kneser-Ney smoothing; HMMs; the LSTM",
)
left, middle, right = st.columns(3)
share = dashboard.remembered(
    left.slider, "Held-out share (%)", "compare/share", 10, min_value=5, max_value=50, help="Items kept out of training"
)
samples = dashboard.remembered(
    middle.number_input,
    "Samples per model",
    "compare/samples",
    200,
    min_value=0,
    max_value=2_000,
    step=100,
    help="For novelty and diversity. Sampling a smoothed chain over thousands of words takes seconds and memory",
)
seed = dashboard.remembered(
    right.number_input, "Seed", "compare/seed", 0, min_value=0, help="Seeds the split, the fits and the samples"
)
for warning in lineup.slow_warnings(menu[label] for label in picked):
    st.warning(f"Slow: {warning}. A progress bar shows how far it got.", icon="⏳")

settings = dashboard.CompareSettings(tuple(picked), int(share), int(samples), int(seed))
request = (corpus.content_hash, settings)
clicked = st.button("Compare", type="primary", icon="⚖️", disabled=not picked)
if clicked or (st.session_state.pop("compare/from_link", False) and picked):  # a share link runs at once
    st.session_state["compare/request"] = request
shown = st.session_state.get("compare/request")
if not shown or shown[0] != corpus.content_hash:
    st.info("Pick the models and click **Compare**. Results are kept for everyone who asks the same.", icon="👆")
    st.stop()
if shown != request:
    st.caption("The settings above changed: click **Compare** for new results. Shown: the last comparison.")
shown_settings = shown[1]
from tnaas.app import score_charts, tables  # noqa: E402 (tables: pandas, not before there are results to show)

with dashboard.user_errors():
    answer = dashboard.comparison(corpus, shown_settings)
    rows = dashboard.comparison_rows(answer)
    st.dataframe(
        tables.comparison_table(rows),
        hide_index=True,
        column_config={
            "nll": st.column_config.TextColumn("NLL / token", help="Held-out negative log-likelihood, nats per token"),
            "novelty": st.column_config.NumberColumn("novelty", format="%.1f%%", help="New distinct samples"),
            "diversity": st.column_config.NumberColumn("diversity", format="%.1f%%", help="Distinct / all samples"),
            "fit_seconds": st.column_config.NumberColumn("fit s", format="%.2f", help="Wall-clock, this server"),
        },
    )
    st.caption(
        f"Held-out: {answer['test_items']:,} of {len(corpus.items):,} items ({shown_settings.share / 100:.0%} asked "
        "for). The vocabulary is closed: a held-out item with a token the training part never has goes to training, "
        "since no model can score a token it never saw."
    )
    if infinite := [row for row in rows if row.impossible_items]:
        counts = ", ".join(f"{row.model} ({row.impossible_items:,} of {row.test_items:,} items)" for row in infinite)
        st.info(
            f"∞ for {counts}: those held-out items have probability 0. An unsmoothed chain gives every "
            "transition it never saw in training probability 0, so an item that needs one is impossible and the "
            "NLL is infinite; Kneser-Ney smoothing gives unseen transitions some probability.",
            icon="♾️",
        )
    if any(math.isfinite(row.nll_per_token) for row in rows):
        dashboard.show_chart(score_charts.nll_chart(rows))
    if shown_settings.samples:
        dashboard.show_chart(score_charts.novelty_diversity_chart(rows, shown_settings.samples))
    one, two = st.columns(2)
    one.download_button(
        "Download results (CSV)", tables.as_csv(tables.comparison_frame(rows)), "comparison.csv", "text/csv"
    )
    two.download_button(
        "Download answer (JSON)", dashboard.answer_json(answer), "comparison.json", "application/json",
        help="The same as `python -m tnaas compare --json` with these settings",
    )  # fmt: skip
    dashboard.share_link(selection, "Compare", shown_settings.link_values())

dashboard.warm_up()  # after the page is drawn: prepare what the other pages need
