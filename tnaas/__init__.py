"""TNaaS, Tech Names as a Service: learn short sequences, generate new ones, complete masked
ones exactly.

    >>> from tnaas import load_bundled, make_model, generate
    >>> model = make_model("markov", {"state_size": 3}).fit(load_bundled("pokemon"))
    >>> len(generate(model, 5, random_state=0))
    5

Importing tnaas loads numpy only; fit-time libraries (hmmlearn, torch) load when a model
that needs them is fitted, and the app (streamlit) and the API (fastapi) only when used.
"""

from tnaas.data.corpus import Corpus, bundled_names, corpus_from_items, load_bundled, load_corpus, manifest, read_upload
from tnaas.errors import NotEnoughNovelItems, TnaasError
from tnaas.models import MODELS, get_spec, make_model
from tnaas.tasks.evaluate import evaluate, train_test_split
from tnaas.tasks.generate import generate

__version__ = "0.2.0"

__all__ = [
    "MODELS",
    "Corpus",
    "NotEnoughNovelItems",
    "TnaasError",
    "__version__",
    "bundled_names",
    "corpus_from_items",
    "evaluate",
    "generate",
    "get_spec",
    "load_bundled",
    "load_corpus",
    "make_model",
    "manifest",
    "read_upload",
    "train_test_split",
]
