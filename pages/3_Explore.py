"""Explore: what the model learned (transition matrices) and what the corpus looks like."""

import streamlit as st

from tnaas.app import charts, dashboard
from tnaas.app.display import corpus_stats

selection = dashboard.page("Explore", "🔍")
corpus = selection.corpus
st.title("🔍 Explore")
st.caption(selection.describe())
model = dashboard.model_or_stop(selection)

stats = corpus_stats(corpus)
for column, (label, value) in zip(st.columns(len(stats)), stats.items()):
    column.metric(label, value)

st.subheader("What the model learned")
limit = st.slider("States to show", 5, 60, 25, key="explore/limit", help="The most frequent states (rows)")
with dashboard.user_errors():
    for heatmap in dashboard.heatmaps(selection.key, limit, _model=model):
        dashboard.show_chart(charts.heatmap_chart(heatmap))

st.subheader("Next token")
context = st.text_input(
    "Context", "", key=f"explore/context/{corpus.token_kind}", help="The start of an item; empty means the very start"
)
with dashboard.user_errors():
    distribution = model.next_token_distribution(context)
    if distribution:
        dashboard.show_chart(charts.next_token_chart(distribution, context))
    else:
        st.warning(f"The model never produces an item that starts with {context!r}.", icon="🚫")

st.subheader("The corpus")
left, right = st.columns(2)
dashboard.show_chart(charts.length_histogram_chart(corpus.lengths, selection.unit), left)
top_n = right.slider("Top tokens", 5, 60, 25, key="explore/top")
frequencies = dashboard.token_frequencies(corpus.content_hash, top_n, _corpus=corpus)
dashboard.show_chart(charts.token_frequency_chart(frequencies, corpus.token_kind), right)
