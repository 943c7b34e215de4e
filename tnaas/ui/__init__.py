"""What the app needs besides Streamlit: the sidebar's selection, tables, downloads, example
patterns, the shortlist, the Compare menu and the quiz score — each testable without a
script run. `tnaas.dashboard` (the only module that imports streamlit) and the pages use them.
"""
