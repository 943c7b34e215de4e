"""The Lambda zip is complete: unpacked alone (no site-packages, no repository) it imports the
handler and answers a recorded API Gateway event from its artifacts, without fitting."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tnaas.deploy import lambda_zip
from tnaas.errors import TnaasError

HANDLER = "tnaas.api.handler"
HAS_API = importlib.util.find_spec("tnaas.api") is not None
# API Gateway HTTP API, payload format 2.0, as recorded for a GET (trimmed of account ids).
EVENT = {
    "version": "2.0",
    "routeKey": "GET /api/{proxy+}",
    "rawPath": "/api/markov/pokemon/complete",
    # ***base has probability 0 under the unsmoothed chain: Kneser-Ney gives it a chance
    "rawQueryString": "q=%2A%2A%2Abase&smoothing=kneser-ney",
    "headers": {"accept": "application/json", "host": "abc123.execute-api.eu-west-1.amazonaws.com"},
    "queryStringParameters": {"q": "***base", "smoothing": "kneser-ney"},
    "pathParameters": {"proxy": "markov/pokemon/complete"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
        "domainPrefix": "abc123",
        "http": {
            "method": "GET",
            "path": "/api/markov/pokemon/complete",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "curl/8.5.0",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "GET /api/{proxy+}",
        "stage": "$default",
        "time": "01/Dec/2026:10:00:00 +0000",
        "timeEpoch": 1796119200000,
    },
    "isBase64Encoded": False,
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    try:
        return lambda_zip.build_lambda(tmp_path_factory.mktemp("lambda"))
    except TnaasError as error:  # CI has PyPI access: a failure here is real
        pytest.fail(f"could not build the Lambda zip: {error}")


@pytest.fixture(scope="module")
def unpacked(bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(bundle.path) as archive:
        archive.extractall(root)
    return root


def _isolated(root: Path, code: str) -> dict:
    """Run `code` in `python -I -S` (no site-packages, no PYTHONPATH, no cwd) with only
    `root` added to sys.path; it prints one JSON object."""
    prelude = f"import sys, json; sys.path.insert(0, {str(root)!r})\n"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", prelude + code],
        cwd=root.parent,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},  # no TNAAS_ARTIFACTS: the zip's default
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sizes_and_contents(bundle, unpacked):
    assert bundle.zipped_bytes <= 50 * 2**20 and bundle.unzipped_bytes <= 250 * 2**20
    top = {p.name.lower() for p in unpacked.iterdir()}
    for name in ("tnaas", "numpy", "fastapi", "starlette", "pydantic", "pydantic_core", "mangum", "anyio"):
        assert name in top, f"{name} missing from the zip"
    for name in lambda_zip.FORBIDDEN:
        assert not any(t == name or t.startswith(name + "-") for t in top), f"{name} is in the zip"
    assert not (unpacked / "tnaas" / "app").exists()
    assert any(unpacked.glob("numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"))
    headers = list((unpacked / "tnaas" / "_artifacts").glob("*.json"))
    assert len(headers) == bundle.artifacts > 0
    assert (unpacked / "tnaas" / "__pycache__").is_dir()  # precompiled: /var/task is read-only


def test_forbidden_packages_are_refused(tmp_path):
    (tmp_path / "scipy").mkdir()
    with pytest.raises(TnaasError, match="must not contain scipy"):
        lambda_zip._check_forbidden(tmp_path)


def test_the_zip_alone_serves_from_its_artifacts(unpacked):
    """Without the API: the service inside the zip answers with numpy from the zip only."""
    answer = _isolated(
        unpacked,
        "from tnaas.models.markov import MarkovModel\n"
        "def no_fit(*a, **k): raise AssertionError('fitted')\n"
        "MarkovModel.fit = no_fit\n"
        "import numpy\n"
        "from tnaas import service\n"
        "c = service.bundled_corpus('pokemon')\n"
        "r = service.ModelRequest.parse('markov', {'smoothing': 'kneser-ney'}, c)\n"
        "a = service.complete_answer(c, r, '***base')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('scipy', 'pandas', 'torch', 'hmmlearn', 'streamlit', 'sklearn', 'altair'))\n"
        "print(json.dumps({'p': a['probability'], 'numpy': numpy.__file__, 'heavy': heavy,"
        " 'fit_ms': service.fitted(c, r)[1]}))",
    )
    assert answer["p"] > 0
    assert answer["numpy"].startswith(str(unpacked))
    assert answer["heavy"] == [] and answer["fit_ms"] is None


@pytest.mark.skipif(
    not HAS_API, reason="tnaas.api (branch api) is not in this tree yet: the handler cannot be imported"
)
def test_handler_answers_an_api_gateway_event(unpacked):
    answer = _isolated(
        unpacked,
        "from tnaas.models.markov import MarkovModel\n"
        "def no_fit(*a, **k): raise AssertionError('fitted')\n"
        "MarkovModel.fit = no_fit\n"
        f"from {HANDLER.rsplit('.', 1)[0]} import {HANDLER.rsplit('.', 1)[1]} as handler\n"
        "import fastapi, numpy\n"
        "class Context:\n"
        "    function_name, memory_limit_in_mb, aws_request_id = 'tnaas', 256, 'test'\n"
        "    invoked_function_arn = 'arn:aws:lambda:eu-west-1:123456789012:function:tnaas'\n"
        "    def get_remaining_time_in_millis(self): return 15000\n"
        f"response = handler(json.loads({json.dumps(json.dumps(EVENT))}), Context())\n"
        "print(json.dumps({'response': response, 'files': [fastapi.__file__, numpy.__file__]}))",
    )
    response = answer["response"]
    assert all(f.startswith(str(unpacked)) for f in answer["files"])
    assert response["statusCode"] == 200, response.get("body")
    body = json.loads(response["body"])
    assert body["probability"] > 0
    headers = {k.lower() for k in response.get("headers", {})} | {
        k.lower() for k in response.get("multiValueHeaders", {}) or {}
    }
    assert "x-tnaas-fit-ms" not in headers  # served from the artifact: nothing was fitted
