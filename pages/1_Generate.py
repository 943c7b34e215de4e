"""Generate: new items with temperature, length distribution and novelty; a shortlist to download."""

import streamlit as st

from tnaas.app import charts, dashboard, tables
from tnaas.app.length_choice import item_lengths
from tnaas.app.shortlist import update_shortlist

selection = dashboard.page("Generate", "🎲")
st.title("🎲 Generate")
st.caption(selection.describe())
model = dashboard.model_or_stop(selection)

left, middle, right = st.columns(3)
control = dashboard.control
n = control(left.slider, "How many", "gen/n", 20, min_value=1, max_value=200, help="Distinct items to generate")
temperature = control(
    middle.slider,
    "Temperature",
    "gen/temperature",
    1.0,
    min_value=0.1,
    max_value=3.0,
    step=0.05,
    help="Below 1: safer, more typical; above 1: wilder",
)
seed = control(
    right.number_input,
    "Seed",
    "gen/seed",
    0,
    min_value=0,
    max_value=2**31 - 1,
    help="Same seed, same settings: same items",
)
novel = control(st.toggle, "New items only", "gen/novel", True, help="Leave out items that are already in the corpus")

with dashboard.user_errors():
    length = dashboard.length_controls(selection.corpus, "gen")
    settings = dashboard.GenerateSettings(int(n), int(seed), float(temperature), length, bool(novel))
    link = st.container()
    answer = dashboard.generated(selection, model, settings)
    items = answer["items"]
    if answer["shortfall"]:
        st.warning(answer["shortfall"], icon="🔎")
    table = dashboard.generation_table(selection.key, tuple(items), _model=model)
    target, label = dashboard.target_length_probs(selection.key, str(length), _model=model, _corpus=selection.corpus)

    shortlist = st.session_state.setdefault("shortlist", {}).setdefault(selection.corpus_key, [])
    table.insert(0, "keep", table["item"].isin(shortlist))
    edited = st.data_editor(
        table,
        key=f"gen/table/{hash((selection.key, tuple(items)))}",  # a fresh editor for fresh results
        hide_index=True,
        disabled=["item", "log_prob", "status"],
        column_config={
            "keep": st.column_config.CheckboxColumn("keep", help="Tick to add to your shortlist"),
            "log_prob": st.column_config.NumberColumn("log-probability", format="%.2f", help="ln p(item), nats"),
            "status": st.column_config.TextColumn("new or in corpus"),
        },
    )
    shortlist[:] = update_shortlist(shortlist, edited)
    one, two, three = st.columns(3)
    one.download_button("Download table (CSV)", tables.as_csv(table.drop(columns="keep")), "generated.csv", "text/csv")
    two.download_button("Download items (TXT)", tables.as_txt(items), "generated.txt", "text/plain")
    three.download_button(
        "Download answer (JSON)", dashboard.answer_json(answer), "generated.json", "application/json",
        help="The same as `python -m tnaas generate --json` with these settings",
    )  # fmt: skip
    dashboard.share_link(selection, "Generate", settings.link_values(), where=link)

    st.subheader(f"Shortlist ({len(shortlist)})")
    if shortlist:
        st.markdown("\n".join(f"- {item}" for item in shortlist))
        st.download_button("Download shortlist (TXT)", tables.as_txt(shortlist), "shortlist.txt", "text/plain")
    else:
        st.caption("Tick items in the table to keep them here; the shortlist survives new seeds.")

    lengths = item_lengths(items, selection.corpus.token_kind)
    dashboard.show_chart(charts.length_comparison_chart(target, lengths, selection.unit, label))

    if selection.corpus.token_kind == "notes":
        st.subheader("Listen")
        dashboard.tune_player(items, "gen/tune")
