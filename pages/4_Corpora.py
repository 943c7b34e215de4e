"""Corpora: the bundled data with provenance, and the upload of your own file (this session only)."""

import pandas as pd
import streamlit as st

from tnaas.app import dashboard
from tnaas.app.dashboard import MAX_FILE_BYTES, TOKEN_KINDS, csv_columns, manifest

selection = dashboard.page("Corpora", "📚")
st.title("📚 Corpora")
if message := st.session_state.pop("flash", None):
    st.success(message, icon="✅")

entries = manifest()
samples = dashboard.bundled_samples(8)
st.dataframe(
    pd.DataFrame(entries)[["title", "tokens", "items", "licence"]],
    hide_index=True,
    column_config={"items": st.column_config.NumberColumn("items", format="%d")},
)
for entry in entries:
    with st.expander(f"{entry['title']} ({entry['items']:,} items, {entry['tokens']})"):
        st.markdown(entry["description"])
        st.markdown(f"**Source.** {entry['source']}  \n**Licence.** {entry['licence']}")
        if entry["credit"]:
            st.caption(entry["credit"])
        st.code("\n".join(samples[entry["name"]]), language=None)

st.header("Your own corpus")
st.markdown(
    "A `.txt` file with one item per line, or a `.csv`/`.tsv` file and the column to learn "
    f"(optionally `.gz`), up to {MAX_FILE_BYTES // 2**20} MB. It stays in your session: nobody else sees it."
)
upload = st.file_uploader("Upload a corpus", type=["txt", "csv", "tsv", "gz"], key="corpora/file")
if upload is not None:
    data = upload.getvalue()
    with dashboard.user_errors():
        columns = csv_columns(data, upload.name)
        column = st.selectbox("Column", columns, key="corpora/column") if columns else None
        kind = st.selectbox(
            "Tokens",
            ["infer", *TOKEN_KINDS],
            key="corpora/kind",
            help="characters for names, words for titles and lines, notes for tunes (C4 D#5 Bb3)",
        )
        dedupe = st.checkbox("Drop duplicate lines", key="corpora/dedupe")
        if st.button("Use this corpus", type="primary", icon="📎"):
            with st.spinner(f"Reading {upload.name}…"):
                key = dashboard.add_upload(data, upload.name, None if kind == "infer" else kind, column, dedupe)
            added = dashboard.corpus_by_key(key)
            st.session_state["flash"] = (
                f"{upload.name}: {len(added.items):,} items of {added.token_kind}, now selected in the sidebar."
            )
            st.rerun()

dashboard.share_link(selection, "Corpora", {})
for corpus in dashboard.session_uploads().values():
    with st.expander(f"📎 {corpus.title} ({len(corpus.items):,} items, {corpus.token_kind}, your upload)"):
        st.code("\n".join(dashboard.sample_items(corpus, 8)), language=None)

dashboard.warm_up()  # after the page is drawn: prepare what the other pages need
