"""Altair charts as Vega-Lite specs whose data frames travel as named datasets.

`altair.Chart.to_dict()` validates the spec against the Vega-Lite schema, tens of
milliseconds per chart; the app draws every chart on every rerun, so it skips that (the
builders in `tnaas.app.charts` and `tnaas.app.score_charts` are validated by their tests instead).
Data frames become named datasets, which Streamlit sends as Arrow tables: no global Altair
data transformer, no row limit.
"""

from __future__ import annotations

import hashlib

import altair as alt
import pandas as pd

ALTAIR_DEFAULT_CONFIG = {"view": {"continuousWidth": 300, "continuousHeight": 300}}


def vega_lite_spec(chart) -> dict:
    """The chart's Vega-Lite spec (unvalidated) with its data frames under ``spec["datasets"]``.

    Altair's 300 x 300 default view size is dropped: the page's theme sizes charts.
    """
    datasets: dict[str, pd.DataFrame] = {}
    spec = _with_named_data(chart, datasets).to_dict(validate=False)
    if spec.get("config") == ALTAIR_DEFAULT_CONFIG:
        del spec["config"]
    spec["datasets"] = datasets
    return spec


def dataset_name(data: pd.DataFrame) -> str:
    """A name derived from the frame's content and columns: the same data, the same name on
    every rerun, so the browser does not redraw a chart whose data did not change."""
    digest = hashlib.sha1(pd.util.hash_pandas_object(data, index=False).values.tobytes())
    digest.update(",".join(map(str, data.columns)).encode())
    return "data-" + digest.hexdigest()[:16]


def _with_named_data(node, datasets: dict):
    """A shallow copy of an Altair chart whose data frames (also in layers and concatenations)
    are named datasets, collected in `datasets`."""
    node = node.copy(deep=False)
    data = getattr(node, "data", None)
    if isinstance(data, pd.DataFrame):
        name = dataset_name(data)
        datasets[name] = data
        node.data = alt.NamedData(name=name)
    for part in ("layer", "hconcat", "vconcat", "concat"):
        children = getattr(node, part, None)
        if isinstance(children, list):
            setattr(node, part, [_with_named_data(child, datasets) for child in children])
    return node
