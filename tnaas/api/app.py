"""The FastAPI application: routes, the one error shape, optional CORS, settings from the environment.

`create_app(settings)` builds an app (tests pass their own settings); `app` is the one
uvicorn and the Lambda handler serve, configured from environment variables (see
`tnaas.api.settings`). OpenAPI at /openapi.json, interactive docs at /docs.
"""

from __future__ import annotations

from fastapi import FastAPI

from tnaas.api import errors, routes
from tnaas.api.settings import Settings

DESCRIPTION = """\
Tech Names as a Service: Markov chains, an HMM and an LSTM learn short sequences (package
names, Pokémon, verse lines, folk tunes) and generate, score and complete masked patterns
exactly. Every endpoint is a GET whose URL is the whole request, except the two POSTs that
take your own corpus in a JSON body.

Every answer names the model and its parameters, the corpus (name and content hash) and
the seed (one is chosen and named when the request gives none), so any answer can be
reproduced; it is field for field what `python -m tnaas ... --json` prints.

Errors all have one shape: `{"error": {"status": 422, "message": "...", "choices": [...]}}`
(`choices` only for an unknown corpus or model, answered 404). Limits: see each parameter;
bodies at most TNAAS_MAX_BODY_BYTES (default 1,000,000 bytes, else 413); each request at most
TNAAS_TIME_BUDGET_S seconds of work (default 10, else 503). The LSTM is never fitted while a
request waits (422). A request that had to fit its model says how long in `X-TNaaS-Fit-Ms`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app enforcing `settings` (default: from the environment)."""
    settings = settings or Settings.from_env()
    app = FastAPI(title="TNaaS", version="1.0", description=DESCRIPTION)
    app.state.settings = settings
    errors.install(app)
    app.include_router(routes.router)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
            expose_headers=["X-TNaaS-Fit-Ms"],
        )
    return app


app = create_app()
