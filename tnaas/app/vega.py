"""Vega-Lite specs as plain dicts, their data inline inside a layer: the charts' building blocks.

`st.vega_lite_chart` turns a spec's top-level data (``data``, ``data.values`` or
``datasets``) into Arrow tables, which imports pandas and pyarrow (~1 s of CPU on a fresh
server, more than the rest of a page's first render); data inside a layer stays in the
spec's JSON and needs neither, nor altair. So every chart here is a top-level layer whose
one child holds the data (``{"values": [...]}``, plain str / int / float rows) and the
marks. The same data gives the same spec on every rerun, so the browser does not redraw
a chart whose data did not change. Nothing here imports anything but the standard library;
the builders in `tnaas.app.charts` and `tnaas.app.score_charts` are validated against the
Vega-Lite schema by their tests.
"""

from __future__ import annotations

import math


def plain(value):
    """`value` as JSON text can hold it: numpy scalars become Python ints and floats.

    Raises ValueError for a NaN or infinite number (JSON has none; the charts drop those rows).
    """
    if isinstance(value, str | bool | int) or value is None:
        return value
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a chart cannot hold {value!r}")
    return value


def rows(records) -> list[dict]:
    """`records` (dicts) with every value `plain`: what a spec's ``values`` hold."""
    return [{key: plain(value) for key, value in record.items()} for record in records]


def channel(name: str, kind: str, **props) -> dict:
    """An encoding channel (or tooltip entry) on field `name` of Vega-Lite type `kind`
    (quantitative, nominal, ...); `props` are its other properties (title, sort, axis, ...)."""
    return {"field": name, "type": kind, **{key: value for key, value in props.items() if value is not None}}


def rows_high(step: float) -> dict:
    """A height of `step` pixels per category of the y axis (labels stay legible)."""
    return {"step": step}


def titled(text: str, subtitle: str | None = None):
    """A chart title, with a subtitle line when `subtitle` is given."""
    return text if subtitle is None else {"text": text, "subtitle": subtitle}


def chart(values, layers: list[dict], title, height) -> dict:
    """A chart: the `layers` (each a dict with ``mark``, ``encoding``, maybe ``transform``)
    drawn over `values` (records), with `title` and `height` (pixels, or `rows_high`)."""
    group = {"data": {"values": rows(values)}}
    if len(layers) == 1:
        group.update(layers[0])
    else:
        group["layer"] = layers
    return {"title": title, "height": height, "layer": [group]}


def values_of(spec: dict) -> list[dict]:
    """The records a spec made by `chart` draws (for tests and downloads)."""
    return spec["layer"][0]["data"]["values"]


def marks_of(spec: dict) -> list[dict]:
    """The mark layers of a spec made by `chart` (one for a single mark)."""
    group = spec["layer"][0]
    return group.get("layer", [group])
