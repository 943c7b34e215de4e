"""The API's settings: limits and switches read from environment variables, once per app.

`TNAAS_TIME_BUDGET_S` (default 10): seconds one request may work before it is answered 503.
`TNAAS_MAX_BODY_BYTES` (default 1,000,000): largest POST body; a larger one is answered 413.
`TNAAS_CORS_ORIGINS` (default empty = CORS off): comma-separated origins, or `*`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tnaas.errors import TnaasError
from tnaas.validation import check_float, check_int

DEFAULT_TIME_BUDGET_S = 10.0
DEFAULT_MAX_BODY_BYTES = 1_000_000
MAX_TIME_BUDGET_S = 900.0  # Lambda's own ceiling
MAX_BODY_BYTES_CEILING = 6_000_000  # Lambda's synchronous payload limit


@dataclass(frozen=True)
class Settings:
    """What one app enforces: the per-request time budget (s), the body cap (bytes), CORS origins."""

    time_budget_s: float = DEFAULT_TIME_BUDGET_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ=None) -> Settings:
        """The settings the environment asks for; a bad value is a `TnaasError` naming the variable."""
        environ = os.environ if environ is None else environ
        try:
            budget = check_float(
                environ.get("TNAAS_TIME_BUDGET_S", DEFAULT_TIME_BUDGET_S),
                "TNAAS_TIME_BUDGET_S",
                0.0,
                MAX_TIME_BUDGET_S,
                low_open=True,
            )
            body = check_int(
                environ.get("TNAAS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
                "TNAAS_MAX_BODY_BYTES",
                1,
                MAX_BODY_BYTES_CEILING,
            )
        except TnaasError as error:
            raise TnaasError(f"environment: {error}") from None
        origins = tuple(o.strip() for o in environ.get("TNAAS_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(budget, body, origins)
