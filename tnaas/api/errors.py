"""One error shape for every failure the API answers, and the handlers that produce it.

Every error, ours or FastAPI's own (validation, unknown route, wrong method), is
``{"error": {"status": <int>, "message": "<one line>", "choices": [...]}}``; `choices`
(the valid names) is present only for an unknown corpus or model. The message of a bad
value is the service's own, so the API and the CLI say the same thing.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tnaas.errors import TnaasError, TooCostly, UnknownName

logger = logging.getLogger("tnaas.api")


class OverBudget(Exception):
    """A request that worked longer than the time budget (answered 503)."""


class BodyTooLarge(Exception):
    """A POST body over the byte cap (answered 413)."""


def error_response(status: int, message: str, choices=None, headers=None) -> JSONResponse:
    """The one error shape as a response."""
    error = {"status": status, "message": message}
    if choices is not None:
        error["choices"] = list(choices)
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> str:
    """FastAPI's list of problems as one line, e.g. "q: Field required"."""
    parts = []
    for problem in error.errors()[:3]:
        where = ".".join(str(p) for p in problem.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Answer every failure of `app` in the one error shape."""

    @app.exception_handler(UnknownName)
    async def unknown_name(request: Request, error: UnknownName):
        return error_response(404, str(error), error.choices)

    @app.exception_handler(TooCostly)
    async def too_costly(request: Request, error: TooCostly):
        return error_response(422, str(error))

    @app.exception_handler(TnaasError)
    async def bad_input(request: Request, error: TnaasError):
        return error_response(422, str(error))

    @app.exception_handler(OverBudget)
    async def over_budget(request: Request, error: OverBudget):
        return error_response(503, str(error))

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, error: BodyTooLarge):
        return error_response(413, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        return error_response(422, _validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if error.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path} (see /docs)"
        else:
            message = str(error.detail)
        return error_response(error.status_code, message, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def server_error(request: Request, error: Exception):  # a bug: logged, never a traceback
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error: the server could not answer this request")


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "choices": {"type": "array", "items": {"type": "string"}},
            },
        }
    },
}
