"""Explore: what the model learned (transition matrices) and what the corpus looks like."""

import streamlit as st

from tnaas.app import charts, dashboard
from tnaas.app.display import corpus_stats

selection = dashboard.page("Explore", "🔍")
corpus = selection.corpus
st.title("🔍 Explore")
st.caption(selection.describe())
model = dashboard.model_or_stop(selection)
control = dashboard.control

stats = corpus_stats(corpus)
for column, (label, value) in zip(st.columns(len(stats)), stats.items()):
    column.metric(label, value)

st.subheader("What the model learned")
limit = control(
    st.slider, "States to show", "explore/limit", 25, min_value=5, max_value=60,
    help="The most frequent states (rows)",
)  # fmt: skip
with dashboard.user_errors():
    for heatmap in dashboard.heatmaps(selection.key, limit, _model=model):
        dashboard.show_chart(charts.heatmap_chart(heatmap))

st.subheader("Next token")
context = control(
    st.text_input,
    "Context",
    f"explore/context/{corpus.token_kind}",
    "",
    max_chars=dashboard.MAX_PREFIX_CHARS,
    help="The start of an item; empty means the very start",
)
with dashboard.user_errors():
    distribution = dashboard.next_tokens(selection, model, context)
    if distribution:
        dashboard.show_chart(charts.next_token_chart(distribution, context))
    else:
        st.warning(f"The model never produces an item that starts with {context!r}.", icon="🚫")

st.subheader("The corpus")
left, right = st.columns(2)
dashboard.show_chart(charts.length_histogram_chart(corpus.lengths, selection.unit), left)
top_n = control(right.slider, "Top tokens", "explore/top", 25, min_value=5, max_value=60)
frequencies = dashboard.token_frequencies(corpus.content_hash, top_n, _corpus=corpus)
dashboard.show_chart(charts.token_frequency_chart(frequencies, corpus.token_kind), right)
dashboard.share_link(selection, "Explore", {"limit": limit, "context": context, "top": top_n})

dashboard.warm_up()  # after the page is drawn: prepare what the other pages need
