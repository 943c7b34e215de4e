"""The README's curl examples are answered in-process and must print exactly what it shows.

Every `$ curl -s '…'` line in a ```console block of README.md is one example: the URL
(GET, or POST with `-X POST … -d '<json>'`) goes to `TestClient(tnaas.api.app)`, and the
lines after it, up to the next `$ ` or the end of the block, must be exactly the body
`curl -s` prints (the API's compact JSON, byte for byte) and parse to the same JSON.
"""

from __future__ import annotations

import json
import re
import shlex
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tnaas.api import app

README = Path(__file__).resolve().parent.parent / "README.md"
HOST = "http://127.0.0.1:8000"


def curl_examples(text: str | None = None) -> list[tuple[str, str]]:
    """(curl command line, expected output) for every `$ curl -s` in console blocks."""
    text = README.read_text(encoding="utf-8") if text is None else text
    examples = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            if command.startswith("curl "):
                examples.append((command, output))
    return examples


def parse_curl(command: str) -> tuple[str, str, dict | None]:
    """(method, path with query, JSON body or None) of `curl -s [-X POST] 'URL' [-H …] [-d '…']`."""
    argv = shlex.split(command)
    assert argv[:2] == ["curl", "-s"], command
    method, url, body, rest = "GET", None, None, argv[2:]
    while rest:
        flag = rest.pop(0)
        if flag == "-X":
            method = rest.pop(0)
        elif flag == "-H":
            assert rest.pop(0).lower() == "content-type: application/json"
        elif flag == "-d":
            body = json.loads(rest.pop(0))
        else:
            assert url is None and flag.startswith(HOST + "/"), f"unexpected curl argument {flag!r}"
            url = flag
    assert url is not None and method in ("GET", "POST") and (body is not None) == (method == "POST"), command
    parts = urlsplit(url)
    return method, parts.path + (f"?{parts.query}" if parts.query else ""), body


EXAMPLES = curl_examples()


@pytest.fixture(scope="module")
def client():
    return TestClient(app)


def test_the_readme_shows_every_kind_of_example():
    paths = [parse_curl(command)[1] for command, _ in EXAMPLES]
    for needed in ("/complete?", "/generate?", "/score?", "/api/sounds-like?", "/api/check?", "/api/blend/"):
        assert any(needed in path for path in paths), needed
    statuses = {json.loads(output).get("error", {}).get("status") for _, output in EXAMPLES if output.startswith("{")}
    assert {404, 422} <= statuses
    assert any(parse_curl(command)[0] == "POST" for command, _ in EXAMPLES)


def test_the_parser_reads_what_it_is_given():
    block = "```console\n$ curl -s 'http://127.0.0.1:8000/health'\n{}\n$ python -m tnaas corpora\nx\n```\n"
    assert curl_examples(block) == [("curl -s 'http://127.0.0.1:8000/health'", "{}\n")]
    post = "curl -s -X POST 'http://127.0.0.1:8000/api/markov/generate' -H 'content-type: application/json' -d '{\"n\": 1}'"
    assert parse_curl(post) == ("POST", "/api/markov/generate", {"n": 1})
    with pytest.raises(AssertionError):
        parse_curl("curl -s 'http://example.com/api/corpora'")


@pytest.mark.parametrize("command,expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_curl_prints_what_the_readme_says(client, command, expected):
    method, path, body = parse_curl(command)
    response = client.request(method, path, json=body)
    assert json.loads(expected) == response.json()
    assert expected == response.text + "\n"  # curl -s prints the body as is; the block adds the newline
    if "error" in response.json():
        assert response.json()["error"]["status"] == response.status_code
    else:
        assert response.status_code == 200
