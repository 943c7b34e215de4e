"""Fitted models as artifacts: plain numpy arrays (`.npz`) beside a JSON header.

    >>> from tnaas.data.corpus import load_bundled
    >>> from tnaas.service import ModelRequest
    >>> corpus = load_bundled("pokemon")
    >>> request = ModelRequest.parse("markov", {}, corpus)
    >>> paths = save_artifact(request.build().fit(corpus), request, corpus, "/tmp/tnaas-doctest")  # doctest: +SKIP
    >>> load_artifact(paths[0]).sample(2, random_state=0)  # doctest: +SKIP

Loading never runs code from the files (see `tnaas.artifacts.format`); each model has a
save and a load function in `tnaas.artifacts.codecs.CODECS`. `tnaas.artifacts.store`
finds the artifact of a request in a directory (the service's `TNAAS_ARTIFACTS`), and
`tnaas.artifacts.build` fits the default line-up for the bundled corpora.
"""

from __future__ import annotations

import re
from pathlib import Path

from tnaas.artifacts.codecs import CODECS, codec_for
from tnaas.artifacts.format import FORMAT_NAME, FORMAT_VERSION, read_arrays, read_header, write_artifact
from tnaas.errors import TnaasError


def artifact_stem(request, corpus) -> str:
    """A file stem naming the corpus, the model and its parameters, e.g.
    ``pokemon--markov--smoothing=none,state_size=3`` (unsafe characters become `_`)."""
    params = ",".join(f"{k}={v}" for k, v in request.params)
    return re.sub(r"[^A-Za-z0-9_.=,-]", "_", f"{corpus.name}--{request.name}--{params}")


def save_artifact(model, request, corpus, directory) -> tuple[Path, Path]:
    """Write fitted `model` (built from `request`, a `ModelRequest`, fitted on `corpus`)
    into `directory`; returns (header path, npz path)."""
    from tnaas import __version__

    arrays, facts = codec_for(request.name).save(model)
    header = {
        "model": request.name,
        "params": dict(request.params),
        "corpus": {"name": corpus.name, "content_hash": corpus.content_hash, "items": len(corpus.items)},
        "token_kind": corpus.token_kind,
        "library_version": __version__,
        "facts": facts,
    }
    return write_artifact(Path(directory) / artifact_stem(request, corpus), header, arrays)


def load_artifact(path):
    """The fitted model saved at `path` (its `.json`, its `.npz` or their common stem).

    Answers (`sample`, `log_prob`, `complete`, `next_token_distribution`) equal those of
    the model that was saved. Needs numpy only. Any problem is one `TnaasError`.
    """
    header = read_header(path)
    arrays = read_arrays(path, header)
    codec = codec_for(header["model"])
    if header["token_kind"] != header["facts"].get("token_kind"):
        raise TnaasError(f"{Path(path).name}: token kinds in the header disagree")
    try:
        return codec.load(header["params"], header["facts"], arrays)
    except TnaasError as error:
        raise TnaasError(f"{Path(path).name}: {error}") from None
    except (ValueError, TypeError, IndexError, KeyError) as error:  # numbers that build no model
        raise TnaasError(f"{Path(path).name} is corrupt: {type(error).__name__} while rebuilding the model") from None


__all__ = ["CODECS", "FORMAT_NAME", "FORMAT_VERSION", "artifact_stem", "load_artifact", "read_header", "save_artifact"]
