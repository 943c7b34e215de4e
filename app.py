"""TNaaS home page: the talk's three steps (corpus, model, go) on one screen.

Run with `streamlit run app.py`; the other pages are in `pages/`.
"""

import streamlit as st

from tnaas.app import dashboard

selection = dashboard.page("Home", "🔤")

st.title("🔤 Tech Names as a Service")
st.markdown(
    "Learn a list of short things (Pokémon, IKEA products, package names, song titles, "
    "verse lines, folk tunes) and make up new ones that sound just like them."
)

one, two, three = st.columns(3)
one.markdown(f"**① Select a corpus** in the sidebar.  \nNow: *{selection.corpus.title}*")
two.markdown(f"**② Select a model** in the sidebar.  \nNow: *{selection.describe().split(' on ')[0]}*")
three.markdown("**③ Click go** and read ten new items.")
if three.button("Go", type="primary", icon="🚀", help="Generate ten items the corpus does not contain"):
    st.session_state["home_clicks"] = st.session_state.get("home_clicks", 0) + 1

clicks = st.session_state.get("home_clicks", 0)
dashboard.share_link(selection, "Home", {"seed": clicks} if clicks else {}, where=st.container())
if clicks:
    model = dashboard.model_or_stop(selection)
    with dashboard.user_errors():
        answer = dashboard.generated(selection, model, dashboard.GenerateSettings(n=10, seed=clicks))
        if answer["shortfall"]:
            st.warning(answer["shortfall"])
        st.subheader(f"New from {selection.corpus.title}")
        st.markdown("\n".join(f"- {item}" for item in answer["items"]))
        st.caption(f"Seed {clicks}: click again for ten more. {selection.describe()}.")

st.divider()
st.markdown("**Go further**")
for path, title, icon in dashboard.PAGES[1:]:
    st.page_link(path, label=title, icon=icon)
st.caption(
    "Generate: temperature, length and novelty, exact constraints, names free on PyPI / npm / CRAN, "
    "a shortlist to export and re-import. "
    "Complete: fill in `***base` or `mo%` with exact probabilities. "
    "Explore: what the model learned. Corpora: the data, and your own upload. "
    "Compare: models side by side on held-out items. Quiz: Pokémon or tech? "
    "Blend: names that sound like two corpora at once."
)

dashboard.warm_up()  # after the page is drawn: prepare what the other pages need
