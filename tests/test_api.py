"""The HTTP API in-process (TestClient): every endpoint, every error class, and the CLI's
`--json` answering field for field what the API answers."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest

with warnings.catch_warnings():  # starlette's note about httpx2 is not ours to act on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tnaas import cli, service
from tnaas.api import Settings, app, create_app

TINY = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


@pytest.fixture(scope="module")
def client():
    return TestClient(app)


def _cli_json(argv: list[str]) -> dict:
    out = io.StringIO()
    cli.main(argv + ["--json"], out=out)
    return json.loads(out.getvalue())


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and "\n" not in body["error"]["message"]
    return body["error"]


# ------------------------------------------------------------------ endpoints
def test_health_corpora_models(client):
    assert client.get("/health").json()["status"] == "ok"
    corpora = client.get("/api/corpora").json()
    assert {c["name"] for c in corpora} >= {"tech", "pokemon", "sonnets"}
    assert corpora == service.corpora_answer()
    models = client.get("/api/models").json()
    assert [m["name"] for m in models] == ["markov", "hmm", "lstm"]


def test_generate_names_everything_that_produced_it(client):
    answer = client.get("/api/markov/pokemon/generate?n=5&seed=7&temperature=0.5&length=4-8").json()
    assert answer["model"] == {"name": "markov", "params": {"smoothing": "none", "state_size": 3}}
    assert answer["corpus"]["name"] == "pokemon"
    assert answer["corpus"]["content_hash"] == service.bundled_corpus("pokemon").content_hash
    assert answer["seed"] == 7 and answer["temperature"] == 0.5 and answer["length"] == "4-8"
    assert len(answer["items"]) == 5 and all(4 <= len(i) <= 8 for i in answer["items"])


def test_a_request_without_seed_gets_one_named_and_reproducible(client):
    first = client.get("/api/markov/tech/generate?n=3").json()
    assert isinstance(first["seed"], int)
    again = client.get(f"/api/markov/tech/generate?n=3&seed={first['seed']}").json()
    assert again["items"] == first["items"]


def test_include_existing_is_parsed_from_text(client):
    # bool("false") is True: the text must be parsed, not cast
    assert client.get("/api/markov/tech/generate?n=1&seed=1&include_existing=false").json()["include_existing"] is False
    assert client.get("/api/markov/tech/generate?n=1&seed=1&include_existing=true").json()["include_existing"] is True
    _error(client.get("/api/markov/tech/generate?include_existing=maybe"), 422)


def test_hyperparameters_by_name(client):
    answer = client.get("/api/markov/tech/generate?n=2&seed=1&state_size=2&smoothing=kneser-ney").json()
    assert answer["model"]["params"] == {"smoothing": "kneser-ney", "state_size": 2}
    hmm = client.get("/api/hmm/ikea/score?item=billy&hidden_states=4&iterations=3&train_seed=5").json()
    assert hmm["model"]["params"] == {"hidden_states": 4, "iterations": 3, "train_seed": 5}


def test_complete_and_score(client):
    answer = client.get("/api/markov/tech/complete?q=***base&top=3&samples=2&seed=1").json()
    assert answer["method"] == "exact" and 0 < answer["probability"] < 1
    assert len(answer["top"]) == 3 and len(answer["samples"]) == 2
    assert all(t["text"].endswith("base") and len(t["text"]) == 7 for t in answer["top"])
    score = client.get("/api/markov/tech/score?item=numpy").json()
    assert score["possible"] and score["log_prob"] < 0 and score["in_corpus"] in (True, False)
    impossible = client.get("/api/markov/tech/score?item=zzzq").json()
    assert impossible["log_prob"] is None and not impossible["possible"] and "kneser-ney" in impossible["explanation"]


def test_sounds_like(client):
    answer = client.get("/api/sounds-like?name=pikachu").json()
    assert next(iter(answer["posterior"])) == "pokemon"
    assert abs(sum(answer["posterior"].values()) - 1) < 1e-9


def test_probability_zero_is_an_answer(client):
    response = client.get("/api/markov/tech/complete?q=zzzzq*")
    assert response.status_code == 200
    assert response.json()["probability"] == 0 and "probability is 0" in response.json()["message"]


# ------------------------------------------------------------------ CLI and API agree
@pytest.mark.parametrize(
    ("url", "argv"),
    [
        (
            "/api/markov/pokemon/generate?n=4&seed=3&temperature=0.8&length=5-7",
            [
                "generate",
                "--corpus",
                "pokemon",
                "-n",
                "4",
                "--seed",
                "3",
                "--temperature",
                "0.8",
                "--length-dist",
                "5-7",
            ],
        ),
        (
            "/api/markov/tech/generate?n=3&seed=9&state_size=2&smoothing=kneser-ney",
            [
                "generate",
                "--corpus",
                "tech",
                "-n",
                "3",
                "--seed",
                "9",
                "--state-size",
                "2",
                "--smoothing",
                "kneser-ney",
            ],
        ),
        (
            "/api/markov/tech/complete?q=***base&top=4&samples=3&seed=5",
            ["complete", "***base", "--corpus", "tech", "--top", "4", "--samples", "3", "--seed", "5"],
        ),
        ("/api/markov/tech/complete?q=zzzzq*&seed=1", ["complete", "zzzzq*", "--corpus", "tech", "--seed", "1"]),
        ("/api/markov/tech/score?item=numpy", ["score", "numpy", "--corpus", "tech"]),
        ("/api/markov/tech/score?item=zzzq", ["score", "zzzq", "--corpus", "tech"]),
        ("/api/sounds-like?name=Billy", ["sounds-like", "Billy"]),
    ],
)
def test_cli_json_and_api_are_identical(client, url, argv):
    assert client.get(url).json() == _cli_json(argv)


@pytest.mark.parametrize(
    ("url", "argv"),
    [
        ("/api/markov/tech/generate?n=-1", ["generate", "--corpus", "tech", "-n", "-1"]),
        ("/api/markov/tech/generate?temperature=nan", ["generate", "--corpus", "tech", "--temperature", "nan"]),
        ("/api/markov/tech/generate?length=4-2", ["generate", "--corpus", "tech", "--length-dist", "4-2"]),
        ("/api/markov/tech/generate?state_size=9", ["generate", "--corpus", "tech", "--state-size", "9"]),
        ("/api/markov/tech/complete?q=ab&top=5000", ["complete", "ab", "--corpus", "tech", "--top", "5000"]),
        ("/api/markov/tech/complete?q=" + "a" * 401, ["complete", "a" * 401, "--corpus", "tech"]),
        ("/api/markov/tech/score?item=", ["score", "", "--corpus", "tech"]),
    ],
)
def test_a_bad_value_gets_the_cli_message(client, capsys, url, argv):
    capsys.readouterr()
    assert cli.main(argv) == 2
    printed = capsys.readouterr().err.strip().removeprefix("tnaas: error: ")
    response = client.get(url)
    assert response.status_code in (404, 422)
    assert response.json()["error"]["message"] == printed


# ------------------------------------------------------------------ errors
def test_unknown_corpus_and_model_list_the_valid_names(client):
    corpus = _error(client.get("/api/markov/atlantis/generate"), 404)
    assert corpus["choices"] == ["pokemon", "ikea", "tech", "rhcp", "sonnets", "notes", "ipsum"]
    model = _error(client.get("/api/gpt/tech/complete?q=a"), 404)
    assert model["choices"] == ["markov", "hmm", "lstm"]


def test_foreign_and_unknown_hyperparameters_are_refused(client):
    assert _error(client.get("/api/markov/tech/generate?hidden_states=3"), 422)["message"] == (
        "hidden states does not apply to the markov model"
    )
    assert "colour does not apply" in _error(client.get("/api/hmm/tech/generate?colour=red"), 422)["message"]
    assert "more than once" in _error(client.get("/api/markov/tech/generate?n=1&n=2"), 422)["message"]
    assert (
        "colour does not apply to sounds-like"
        in _error(client.get("/api/sounds-like?name=pika&colour=red"), 422)["message"]
    )


def test_missing_required_parameters(client):
    assert _error(client.get("/api/markov/tech/complete"), 422)["message"].startswith("q is required")
    assert _error(client.get("/api/markov/tech/score"), 422)["message"].startswith("item is required")
    assert _error(client.get("/api/sounds-like"), 422)["message"].startswith("name is required")


def test_the_lstm_is_not_fitted_on_request(client):
    assert "not fitted on request" in _error(client.get("/api/lstm/pokemon/generate?n=1"), 422)["message"]


def test_a_former_lattice_limit_query_is_answered(client):
    # `%` on smoothed sonnets was refused (V edges per node); the backoff lattice answers it
    client.get("/api/markov/sonnets/score?item=a&smoothing=kneser-ney")  # fitted first
    response = client.get("/api/markov/sonnets/complete?q=%25&smoothing=kneser-ney")
    assert response.status_code == 200, response.text
    assert 0.9 < response.json()["probability"] <= 1.0


def test_over_the_time_budget_is_503():
    slow = TestClient(create_app(Settings(time_budget_s=0.2)))
    slow.get("/api/markov/tech/score?item=a&smoothing=kneser-ney&state_size=5")  # fit outside the timing
    started = time.perf_counter()
    response = slow.get(
        "/api/markov/tech/complete?q=%25a%25b%25c%25d%25e%25f%25g%25h&smoothing=kneser-ney&state_size=5"
    )
    assert "0.2 s budget" in _error(response, 503)["message"]
    assert time.perf_counter() - started < 1.5


def test_unknown_routes_and_methods(client):
    assert "no such endpoint" in _error(client.get("/api/markov/tech/dance"), 404)["message"]
    response = client.get("/api/markov/complete")
    _error(response, 405)
    assert response.headers["allow"] == "POST"
    _error(client.delete("/health"), 405)


def test_fastapis_own_validation_errors_have_the_one_shape():
    typed = create_app(Settings())

    @typed.get("/typed")
    def _typed(x: int):
        return {"x": x}

    error = _error(TestClient(typed).get("/typed?x=one"), 422)
    assert error["message"].startswith("x:")


# ------------------------------------------------------------------ your own corpus
def test_post_generate_and_complete_on_your_corpus(client):
    body = {"items": TINY, "n": 3, "seed": 2, "state_size": 1, "include_existing": True}
    answer = client.post("/api/markov/generate", json=body).json()
    assert answer["corpus"]["name"] == "custom" and answer["corpus"]["items"] == len(TINY)
    assert answer["model"]["params"]["state_size"] == 1 and len(answer["items"]) == 3
    completion = client.post("/api/markov/complete", json={"items": TINY, "q": "*eta", "top": 5, "state_size": 2})
    texts = {t["text"] for t in completion.json()["top"]}
    assert {"beta", "zeta"} <= texts
    words = client.post(
        "/api/markov/generate", json={"items": ["a b", "b c", "c a", "a c", "b a"], "token_kind": "words", "seed": 1}
    ).json()
    assert words["corpus"]["token_kind"] == "words"


def test_your_corpus_is_fitted_once_per_content(client):
    items = [f"{w}x{len(TINY)}" for w in TINY] + ["unique-to-this-test"]
    first = client.post("/api/markov/generate", json={"items": items, "n": 1, "seed": 1})
    second = client.post("/api/markov/generate", json={"items": items, "n": 1, "seed": 1})
    assert float(first.headers["x-tnaas-fit-ms"]) >= 0
    assert "x-tnaas-fit-ms" not in second.headers
    assert first.json() == second.json()


def test_bad_bodies(client):
    big = TestClient(create_app(Settings(max_body_bytes=100)))
    assert "at most 100" in _error(big.post("/api/markov/generate", json={"items": TINY * 10}), 413)["message"]
    _error(client.post("/api/markov/generate", content=b"{not json"), 422)
    _error(client.post("/api/markov/generate", json=[1, 2]), 422)
    assert _error(client.post("/api/markov/generate", json={"items": "abc"}), 422)["message"] == (
        "items must be a list of strings"
    )
    assert "at least 5" in _error(client.post("/api/markov/generate", json={"items": ["a", "b"]}), 422)["message"]
    assert (
        "token kind"
        in _error(client.post("/api/markov/generate", json={"items": TINY, "token_kind": "x"}), 422)["message"]
    )
    _error(client.post("/api/markov/complete", json={"items": TINY}), 422)
    _error(client.post("/api/markov/complete", json={"items": TINY, "q": "a", "epochs": 3}), 422)


def test_chunked_body_over_the_cap_is_413():
    small = TestClient(create_app(Settings(max_body_bytes=1000)))
    chunks = (b'{"items": [' + b'"abcdefgh",' * 50 for _ in range(10))  # no content-length: streamed
    _error(small.post("/api/markov/generate", content=chunks), 413)


# ------------------------------------------------------------------ fitting, CORS, concurrency
def test_a_cold_request_says_how_long_it_fitted(client):
    url = "/api/markov/rhcp/generate?n=1&seed=1&state_size=1&smoothing=kneser-ney"
    service.MODELS_CACHE.clear()
    cold = client.get(url)
    assert float(cold.headers["x-tnaas-fit-ms"]) > 0
    warm = client.get(url)
    assert "x-tnaas-fit-ms" not in warm.headers and warm.json() == cold.json()


def test_a_bad_value_is_refused_before_fitting(client):
    service.MODELS_CACHE.clear()
    _error(client.get("/api/markov/ipsum/generate?n=1000000&state_size=1"), 422)
    assert len(service.MODELS_CACHE) == 0


def test_cors_is_off_by_default_and_configurable(client):
    origin = {"Origin": "https://names.example"}
    assert "access-control-allow-origin" not in client.get("/health", headers=origin).headers
    allowed = TestClient(create_app(Settings(cors_origins=("https://names.example",))))
    assert allowed.get("/health", headers=origin).headers["access-control-allow-origin"] == "https://names.example"
    assert Settings.from_env({"TNAAS_CORS_ORIGINS": "https://a.example, https://b.example"}).cors_origins == (
        "https://a.example",
        "https://b.example",
    )


def test_settings_from_env_are_validated():
    assert Settings.from_env({}) == Settings(10.0, 1_000_000, ())
    assert Settings.from_env({"TNAAS_TIME_BUDGET_S": "2.5"}).time_budget_s == 2.5
    with pytest.raises(ValueError, match="TNAAS_TIME_BUDGET_S"):
        Settings.from_env({"TNAAS_TIME_BUDGET_S": "0"})
    with pytest.raises(ValueError, match="TNAAS_MAX_BODY_BYTES"):
        Settings.from_env({"TNAAS_MAX_BODY_BYTES": "lots"})


def test_concurrent_cold_requests_fit_once_and_agree(client):
    service.MODELS_CACHE.clear()
    url = "/api/markov/ikea/generate?n=3&seed=4&state_size=2"
    answers, headers = [], []

    def ask():
        response = client.get(url)
        answers.append(response.json())
        headers.append(response.headers.get("x-tnaas-fit-ms"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 8 and all(a == answers[0] for a in answers)
    assert sum(h is not None for h in headers) == 1  # the others waited for that fit


# ------------------------------------------------------------------ schema and serving
def test_openapi_documents_every_endpoint_and_limit(client):
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/health",
        "/api/corpora",
        "/api/models",
        "/api/sounds-like",
        "/api/check",
        "/api/blend/{corpus_a}/{corpus_b}",
        "/api/{model}/{corpus}/generate",
        "/api/{model}/{corpus}/complete",
        "/api/{model}/{corpus}/score",
        "/api/{model}/generate",
        "/api/{model}/complete",
    }
    generate = schema["paths"]["/api/{model}/{corpus}/generate"]["get"]
    described = {p["name"]: p.get("description", "") for p in generate["parameters"]}
    assert "100,000" in described["n"] and "state_size" in described and "hidden_size" in described
    assert "X-TNaaS-Fit-Ms" in generate["responses"]["200"]["headers"]
    assert "1,000,000" in schema["paths"]["/api/{model}/generate"]["post"]["requestBody"]["description"]
    assert client.get("/docs").status_code == 200


def test_importing_tnaas_does_not_import_the_web_stack():
    code = "import sys, tnaas, tnaas.cli, tnaas.service; print(any(m.split('.')[0] in ('fastapi', 'uvicorn', 'mangum', 'starlette') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_uvicorn():
    import httpx

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tnaas", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/markov/pokemon/generate?n=2&seed=1", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["seed"] == 1
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_bad_flags(capsys):
    assert cli.main(["serve", "--workers", "0"]) == 2
    assert "--workers must be a whole number from 1 to 64" in capsys.readouterr().err
