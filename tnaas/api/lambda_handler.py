"""AWS Lambda entry point: the same app behind Mangum, for API Gateway and function URLs.

Mangum answers REST API (payload 1.0), HTTP API (payload 2.0) and function URL events. A
stage prefix (`/prod/api/...`, which HTTP APIs put in the path for a named stage) is taken
off here, from the event's own `requestContext.stage`, so one deployment serves any stage;
`TNAAS_API_BASE_PATH` strips a fixed prefix as well (a custom domain's base path mapping).
"""

from __future__ import annotations

import copy
import os

_MANGUM = None


def _without_stage(event: dict) -> dict:
    """`event` with a leading `/{stage}` taken off its path (unchanged for `$default` or no stage)."""
    context = event.get("requestContext") or {}
    stage = context.get("stage")
    if not stage or stage == "$default":
        return event
    prefix = f"/{stage}"

    def strip(path):
        if isinstance(path, str) and (path == prefix or path.startswith(prefix + "/")):
            return path[len(prefix) :] or "/"
        return path

    event = copy.copy(event)
    if "path" in event:
        event["path"] = strip(event["path"])
    if "rawPath" in event:
        event["rawPath"] = strip(event["rawPath"])
    if isinstance(context.get("http"), dict) and "path" in context["http"]:
        event["requestContext"] = context | {"http": context["http"] | {"path": strip(context["http"]["path"])}}
    return event


def handler(event: dict, context) -> dict:
    """The Lambda handler: `event` (API Gateway or function URL) answered by `tnaas.api.app`."""
    global _MANGUM
    if _MANGUM is None:  # built on the first event: importing the module costs nothing
        from mangum import Mangum

        from tnaas.api.app import app

        _MANGUM = Mangum(app, lifespan="off", api_gateway_base_path=os.environ.get("TNAAS_API_BASE_PATH", "/"))
    return _MANGUM(_without_stage(event), context)
