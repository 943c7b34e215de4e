"""The Lambda handler answers recorded API Gateway and function URL events exactly as the
HTTP server answers the same request (status, JSON body, the headers that matter).

The fixtures in tests/events/ follow AWS's documented event formats: REST API proxy
integration (payload 1.0), HTTP API payload 1.0 (stage in the path) and 2.0, and Lambda
function URLs (2.0, `$default` stage, base64 bodies).
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tnaas.api import app, handler
from tnaas.api.lambda_handler import _without_stage

EVENTS = Path(__file__).parent / "events"
POST_GENERATE = {"items": ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"], "n": 3, "seed": 2, "state_size": 1}
POST_COMPLETE = {
    "items": ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"],
    "q": "*eta",
    "seed": 2,
    "state_size": 2,
}

# fixture -> (method, URL on the HTTP server, JSON body, expected status)
CASES = {
    "rest_v1_generate": ("GET", "/api/markov/pokemon/generate?n=4&seed=3&length=5-7", None, 200),
    "rest_v1_score_unknown_corpus": ("GET", "/api/markov/atlantis/score?item=billy", None, 404),
    "rest_v1_post_complete": ("POST", "/api/markov/complete", POST_COMPLETE, 200),
    "http_v1_complete_stage_in_path": ("GET", "/api/markov/tech/complete?q=***base&top=3&seed=5", None, 200),
    "http_v2_complete": ("GET", "/api/markov/tech/complete?q=***base&top=3&seed=5", None, 200),
    "http_v2_bad_value": ("GET", "/api/markov/tech/generate?n=many", None, 422),
    "http_v2_post_generate": ("POST", "/api/markov/generate", POST_GENERATE, 200),
    "http_v2_default_stage_health": ("GET", "/health", None, 200),
    "function_url_sounds_like": ("GET", "/api/sounds-like?name=pikachu", None, 200),
    "function_url_post_generate_base64": ("POST", "/api/markov/generate", POST_GENERATE, 200),
    "function_url_method_not_allowed": ("GET", "/api/markov/complete", None, 405),
}


class _Context:
    """The little of a LambdaContext that anything reads."""

    function_name = "tnaas"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


def _load(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def _body(result: dict):
    text = base64.b64decode(result["body"]) if result.get("isBase64Encoded") else result["body"]
    return json.loads(text)


def _header(result: dict, name: str):
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    return headers.get(name)


def test_every_fixture_has_a_case():
    assert {p.stem for p in EVENTS.glob("*.json")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_handler_answers_as_the_http_server(name):
    method, url, body, status = CASES[name]
    expected = TestClient(app).request(method, url, json=body)
    assert expected.status_code == status
    result = handler(_load(name), _Context())
    assert result["statusCode"] == status
    assert _body(result) == expected.json()
    assert _header(result, "content-type") == "application/json"
    if status == 405:
        assert _header(result, "allow") == "POST"


def test_the_stage_is_taken_off_only_where_it_is():
    rest = _load("rest_v1_generate")  # REST API: `path` has no stage, requestContext.path has
    assert _without_stage(rest)["path"] == "/api/markov/pokemon/generate"
    v2 = _without_stage(_load("http_v2_complete"))
    assert v2["rawPath"] == v2["requestContext"]["http"]["path"] == "/api/markov/tech/complete"
    url = _load("function_url_sounds_like")
    assert _without_stage(url) is url
    named_like_a_path = {"path": "/production/api", "requestContext": {"stage": "prod"}}
    assert _without_stage(named_like_a_path)["path"] == "/production/api"


def test_the_fixtures_are_not_changed_by_the_handler():
    event = _load("http_v2_complete")
    handler(event, _Context())
    assert event == _load("http_v2_complete")
