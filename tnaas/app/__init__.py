"""The Streamlit app: the only package that imports streamlit (`dashboard`), with its
helpers (selection, tables, charts, audio, …). `app.py` and `pages/` import only this."""
