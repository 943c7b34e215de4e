"""`tnaas build-artifacts`: fit the default line-up on the bundled corpora and save each fit.

The line-up is the Markov chain at the corpus's usual state size (no smoothing and
Kneser-Ney), the HMM (16 hidden states) and, where torch is installed, the LSTM; every
other parameter is the registry default, so the artifacts serve exactly the requests the
API gets when a client names no parameters.
"""

from __future__ import annotations

import time
from pathlib import Path

from tnaas.errors import TnaasError

# (model, parameters given; the rest resolve to the registry's defaults for the corpus)
LINEUP: tuple[tuple[str, dict], ...] = (
    ("markov", {"smoothing": "none"}),
    ("markov", {"smoothing": "kneser-ney"}),
    ("hmm", {"hidden_states": 16}),
    ("lstm", {}),
)


def lineup(models=None) -> list[tuple[str, dict]]:
    """The line-up entries of the named models (all of them by default, the LSTM only
    where torch is installed). Unknown names are a `TnaasError`."""
    from tnaas.models import MODELS

    known = sorted({name for name, _ in LINEUP})
    if models is None:
        return [(name, params) for name, params in LINEUP if MODELS[name].available()[0]]
    unknown = [m for m in models if m not in known]
    if unknown:
        raise TnaasError(f"no artifacts for model {unknown[0]!r}: choose from {', '.join(known)}")
    return [(name, params) for name, params in LINEUP if name in models]


def build_artifacts(outdir, corpora=None, models=None, report=None) -> list[Path]:
    """Fit every line-up entry (see `lineup`) on every corpus in `corpora` (bundled names;
    default all) and save it into `outdir`; returns the header paths.

    `report(line)` is told about each artifact (fit seconds, files). A model whose
    fit-time library is missing is a `TnaasError` when asked for by name.
    """
    from tnaas.artifacts import save_artifact
    from tnaas.data.corpus import bundled_names
    from tnaas.service import ModelRequest, bundled_corpus

    names = bundled_names() if not corpora else list(corpora)
    entries = lineup(models)
    corpora_list = [bundled_corpus(name) for name in names]  # every name checked before any fit
    written = []
    for corpus in corpora_list:
        for name, params in entries:
            request = ModelRequest.parse(name, params, corpus)
            started = time.perf_counter()
            model = request.build().fit(corpus)
            seconds = time.perf_counter() - started
            json_file, npz_file = save_artifact(model, request, corpus, outdir)
            written.append(json_file)
            if report:
                report(f"{json_file.stem}: fitted in {seconds:.2f} s, {npz_file.stat().st_size / 1e6:.2f} MB")
    return written
