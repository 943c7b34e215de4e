"""Generate: new items with temperature, length distribution and novelty, exact constraints,
a free-on filter and a sort; a shortlist to export and import."""

import streamlit as st

from tnaas.app import charts, dashboard, hunt, shortlist, tables
from tnaas.app.length_choice import item_lengths

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
    choice = dashboard.hunt_controls(selection.corpus, "gen")
    settings = dashboard.GenerateSettings(int(n), int(seed), float(temperature), length, bool(novel), choice)
    link = st.container()
    answer = dashboard.generated(selection, model, settings)
    items = answer["items"]
    if "probability" in answer:
        left, right = st.columns([1, 3])
        left.metric(
            "p(constraints), exact", hunt.probability_text(answer["probability"]),
            help="The probability that one generated item meets the constraints (length range included), "
            "summed exactly over every item by forward-backward; the items are exact draws given them.",
        )  # fmt: skip
        if answer["truncated_mass"] > 0:
            right.caption(f"Items longer than the model's cap are left out (at most {answer['truncated_mass']:.2g}).")
    if answer["shortfall"]:
        st.warning(answer["shortfall"], icon="🔎")
    table = dashboard.generation_table(selection.key, tuple(items), _model=model)
    checked = dashboard.availability(tuple(items))
    table = hunt.hunt_table(table, answer, checked)
    target, label = dashboard.target_length_probs(selection.key, str(length), _model=model, _corpus=selection.corpus)

    kept = dashboard.shortlist_of(selection.corpus_key)
    table.insert(0, "keep", table["item"].isin(kept))
    edited = st.data_editor(
        table,
        key=f"gen/table/{hash((selection.key, tuple(items)))}",  # a fresh editor for fresh results
        hide_index=True,
        disabled=[c for c in table.columns if c != "keep"],
        column_config={
            "free on": st.column_config.TextColumn("free on", help=hunt.FREE_ON_HELP),
            "similarity": st.column_config.NumberColumn("similarity", format="%.2f", help="To the Like words, 0-1"),
            "keep": st.column_config.CheckboxColumn("keep", help="Tick to add to your shortlist"),
            "log_prob": st.column_config.NumberColumn("log-probability", format="%.2f", help="ln p(item), nats"),
            "status": st.column_config.TextColumn("new or in corpus"),
        },
    )
    kept[:] = shortlist.update_shortlist(kept, edited)
    dashboard.remember_origins(kept, selection, settings)
    for line in hunt.near_misses(checked):
        st.warning(f"{line}: one edit from a popular package", icon="👯")
    one, two, three = st.columns(3)
    one.download_button("Download table (CSV)", tables.as_csv(table.drop(columns="keep")), "generated.csv", "text/csv")
    two.download_button("Download items (TXT)", tables.as_txt(items), "generated.txt", "text/plain")
    three.download_button(
        "Download answer (JSON)", dashboard.answer_json(answer), "generated.json", "application/json",
        help="The same as `python -m tnaas generate --json` with these settings",
    )  # fmt: skip
    dashboard.share_link(selection, "Generate", settings.link_values(), where=link)

    upload = st.file_uploader(
        "Import a shortlist (JSON or CSV export)", type=["json", "csv"], key="gen/import",
        help="Continue a search: the names join your shortlist, with the settings that produced them",
    )  # fmt: skip
    if upload is not None:
        added, last, error = dashboard.import_once(upload)
        if error:
            st.error(error, icon="⚠️")
        else:
            st.success(f"{added} new names from {upload.name} joined the shortlist.", icon="📥")
            if last:
                st.button(
                    "Continue with the last name's settings",
                    key="gen/continue",
                    on_click=dashboard.continue_from,
                    args=(last,),
                )

    st.subheader(f"Shortlist ({len(kept)})")
    if kept:
        st.markdown("\n".join(f"- {item}" for item in kept))
        rows = dashboard.shortlist_export(kept, model)
        one, two, three = st.columns(3)
        one.download_button("Download shortlist (TXT)", tables.as_txt(kept), "shortlist.txt", "text/plain")
        help = "Each name with its PyPI / npm / CRAN status, NLL per token and the settings that produced it"
        two.download_button("Export shortlist (CSV)", shortlist.as_csv(rows), "shortlist.csv", "text/csv", help=help)
        three.download_button(
            "Export shortlist (JSON)", shortlist.as_json(rows), "shortlist.json", "application/json", help=help
        )
    else:
        st.caption("Tick items in the table to keep them here; the shortlist survives new seeds.")

    lengths = item_lengths(items, selection.corpus.token_kind)
    dashboard.show_chart(charts.length_comparison_chart(target, lengths, selection.unit, label))

    if selection.corpus.token_kind == "notes":
        st.subheader("Listen")
        dashboard.tune_player(items, "gen/tune")

dashboard.warm_up()  # after the page is drawn: prepare what the other pages need
