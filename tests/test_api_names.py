"""The name hunt over HTTP: /api/check, the constraint / availability / ranking parameters of
generate (GET and POST), /api/blend; each answer field for field what the CLI's `--json`
prints, each bad value the CLI's own message."""

from __future__ import annotations

import io
import json
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tnaas import cli, service
from tnaas.api import app
from tnaas.tasks.availability import is_free

TINY = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


@pytest.fixture(scope="module")
def client():
    return TestClient(app)


def _cli_json(argv: list[str]):
    out = io.StringIO()
    cli.main(argv + ["--json"], out=out)
    return json.loads(out.getvalue())


def _cli_error(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert cli.main(argv) == 2
    return capsys.readouterr().err.strip().removeprefix("tnaas: error: ")


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert "\n" not in body["error"]["message"]
    return body["error"]


# ------------------------------------------------------------------ check
def test_check_answers_one_object_per_name_in_order(client):
    answer = client.get("/api/check?name=numpy&name=zorblax-quux").json()
    assert [entry["name"] for entry in answer] == ["numpy", "zorblax-quux"]
    assert answer[0]["pypi"] == "taken" and answer[1]["pypi"].startswith("free")
    assert {"npm", "cran", "similar_to", "normalised", "snapshots", "advice"} <= set(answer[0])


@pytest.mark.parametrize("names", [["numpy"], ["numpy", "zorblax", "Requests"], ["reqeusts"]])
def test_check_is_the_clis_json(client, names):
    url = "/api/check?" + "&".join(f"name={n}" for n in names)
    assert client.get(url).json() == _cli_json(["check", *names])


def test_check_refuses_no_names_too_many_and_others(client, capsys):
    assert "not 0" in _error(client.get("/api/check"), 422)["message"]
    too_many = "&".join(f"name=n{i}" for i in range(101))
    assert "from 1 to 100 names" in _error(client.get(f"/api/check?{too_many}"), 422)["message"]
    assert _error(client.get("/api/check?name=a&names=b"), 422)["message"].startswith("names does not apply")
    assert _error(client.get("/api/check?name=" + "a" * 201), 422)["message"] == _cli_error(
        ["check", "a" * 201], capsys
    )


# ------------------------------------------------------------------ constrained generate
HUNTS = [
    (
        "/api/markov/pokemon/generate?n=4&seed=3&starts_with=Pi&contains=a&sort=score",
        ["generate", "--corpus", "pokemon", "-n", "4", "--seed", "3", "--starts-with", "Pi"]
        + ["--contains", "a", "--sort", "score"],
    ),
    (
        "/api/markov/tech/generate?n=3&seed=5&ends_with=db&not_contains=sql&not_contains=mongo&excludes=xq"
        "&free_on=pypi,npm&like=redis&like=couch&sort=similarity&length=4-9",
        ["generate", "--corpus", "tech", "-n", "3", "--seed", "5", "--ends-with", "db"]
        + ["--not-contains", "sql", "--not-contains", "mongo", "--excludes", "xq", "--free-on", "pypi,npm"]
        + ["--like", "redis", "--like", "couch", "--sort", "similarity", "--length-dist", "4-9"],
    ),
    (
        "/api/markov/tech/generate?n=2&seed=1&free_on=cran&state_size=2",
        ["generate", "--corpus", "tech", "-n", "2", "--seed", "1", "--free-on", "cran", "--state-size", "2"],
    ),
    (
        "/api/markov/pokemon/generate?n=2&seed=8&contains=chu&contains=pi",
        ["generate", "--corpus", "pokemon", "-n", "2", "--seed", "8", "--contains", "chu", "--contains", "pi"],
    ),
]


@pytest.mark.parametrize(("url", "argv"), HUNTS)
def test_constrained_generate_is_the_clis_json(client, url, argv):
    answer = client.get(url).json()
    assert "constraints" in answer and answer["items"]
    assert answer == _cli_json(argv)


def test_constrained_items_meet_every_constraint(client):
    url, _ = HUNTS[1]
    answer = client.get(url).json()
    assert answer["constraints"] == {
        "starts_with": "",
        "ends_with": "db",
        "contains": [],
        "not_contains": ["sql", "mongo"],
        "excludes": ["xq"],
        "min_length": 4,
        "max_length": 9,
    }
    assert 0 < answer["probability"] < 1 and answer["free_on"] == ["pypi", "npm"]
    tech = set(service.bundled_corpus("tech").items)
    for item in answer["items"]:
        assert item.endswith("db") and 4 <= len(item) <= 9 and item not in tech
        assert "sql" not in item and "mongo" not in item and not set("xq") & set(item)
        assert is_free(item, ("pypi", "npm"))
    keys = [(row["distance"], -row["similarity"]) for row in answer["ranked"]]  # fewest edits first
    assert keys == sorted(keys)
    assert [row["item"] for row in answer["ranked"]] == answer["items"]


def test_repeated_contains_means_all_of_them(client):
    answer = client.get(HUNTS[3][0]).json()
    assert answer["constraints"]["contains"] == ["chu", "pi"]
    assert all("chu" in i and "pi" in i for i in answer["items"])


def test_plain_generate_is_unchanged_without_hunt_parameters(client):
    answer = client.get("/api/markov/pokemon/generate?n=2&seed=3").json()
    assert "constraints" not in answer and answer["length"] == "natural"


def test_post_generate_takes_the_hunt_parameters(client):
    body = {"items": TINY, "n": 2, "seed": 1, "state_size": 2, "ends_with": "a", "contains": ["et"]}
    answer = client.post("/api/markov/generate", json=body | {"include_existing": True}).json()
    assert answer["constraints"]["contains"] == ["et"] and answer["items"]
    assert all(i.endswith("a") and "et" in i for i in answer["items"])
    assert _error(client.post("/api/markov/generate", json=body | {"contains": 5}), 422)["message"] == (
        "contains must be text or a list of texts"
    )
    assert _error(client.post("/api/markov/generate", json=body | {"like": [1]}), 422)["message"] == (
        "like must be text or a list of texts"
    )
    assert "free-on" in _error(client.post("/api/markov/generate", json=body | {"free_on": ["mars"]}), 422)["message"]


def test_a_large_constrained_n_is_drawn_not_refused(client):
    # The draw budget once exceeded the exact sampler's own cap: n > 2,000 was refused with
    # "n must be ... not 200000", a number the request never gave.
    body = {"items": TINY, "n": 2001, "seed": 1, "state_size": 2, "ends_with": "ta", "include_existing": True}
    answer = client.post("/api/markov/generate", json=body).json()
    assert set(answer["items"]) <= {"beta", "zeta", "theta", "eta"} | {i for i in answer["items"] if i.endswith("ta")}
    assert "found only" in answer["shortfall"] and "100,000 exact draws" in answer["shortfall"]


@pytest.mark.parametrize(
    ("url", "argv"),
    [
        (
            "/api/markov/tech/generate?free_on=pypi,foo",
            ["generate", "--corpus", "tech", "--free-on", "pypi,foo"],
        ),
        (
            "/api/markov/tech/generate?sort=similarity",
            ["generate", "--corpus", "tech", "--sort", "similarity"],
        ),
        (
            "/api/markov/tech/generate?length=4-8:peaked&starts_with=a",
            ["generate", "--corpus", "tech", "--length-dist", "4-8:peaked", "--starts-with", "a"],
        ),
        (
            "/api/markov/tech/generate?" + "&".join(f"contains={c}" for c in "abcdefghijklmnopq"),
            ["generate", "--corpus", "tech", *[a for c in "abcdefghijklmnopq" for a in ("--contains", c)]],
        ),
        (
            "/api/markov/tech/generate?starts_with=" + "a" * 65,
            ["generate", "--corpus", "tech", "--starts-with", "a" * 65],
        ),
    ],
)
def test_a_bad_hunt_value_gets_the_cli_message(client, capsys, url, argv):
    printed = _cli_error(argv, capsys)
    assert _error(client.get(url), 422)["message"] == printed


def test_unknown_index_message(client):
    message = _error(client.get("/api/markov/tech/generate?free_on=pypi,foo"), 422)["message"]
    assert message == "unknown index 'foo' in free-on: choose from pypi, npm, cran"


def test_non_repeatable_hunt_parameters_are_refused_twice(client):
    for key in ("starts_with", "ends_with", "free_on", "sort"):
        message = _error(client.get(f"/api/markov/tech/generate?{key}=a&{key}=b"), 422)["message"]
        assert message == f"{key} is given more than once"


# ------------------------------------------------------------------ blend
BLENDS = [
    (
        "/api/blend/pokemon/tech?weight=0.3&n=3&seed=2",
        ["generate", "--corpus", "pokemon", "--blend", "tech:0.3", "-n", "3", "--seed", "2"],
    ),
    (
        "/api/blend/pokemon/ikea?mode=product&state_size=2&n=3&seed=4",
        ["generate", "--corpus", "pokemon", "--blend", "ikea", "--blend-mode", "product"]
        + ["--state-size", "2", "-n", "3", "--seed", "4"],
    ),
    (
        "/api/blend/sonnets/rhcp?n=2&seed=1&include_existing=true&state_size=1",
        ["generate", "--corpus", "sonnets", "--blend", "rhcp", "-n", "2", "--seed", "1"]
        + ["--include-existing", "--state-size", "1"],
    ),
]


@pytest.mark.parametrize(("url", "argv"), BLENDS)
def test_blend_is_the_clis_json(client, url, argv):
    answer = client.get(url).json()
    assert answer["items"] and not answer["shortfall"]
    assert answer == _cli_json(argv)


def test_blend_names_both_corpora_and_its_mode(client):
    mixture = client.get(BLENDS[0][0]).json()
    assert mixture["blend"] == {"corpora": ["pokemon", "tech"], "weight": 0.3, "mode": "mixture"}
    assert [c["name"] for c in mixture["corpora"]] == ["pokemon", "tech"] and mixture["max_length"] is None
    product = client.get(BLENDS[1][0] + "&max_length=12").json()
    assert product["max_length"] == 12 and 0 < product["probability_within_bound"] <= 1
    assert all(len(i) <= 12 for i in product["items"])
    existing = {i.casefold() for name in ("pokemon", "ikea") for i in service.bundled_corpus(name).items}
    assert not existing & set(product["items"])


def test_blend_unknown_corpus_is_404_with_choices(client):
    for url in ("/api/blend/atlantis/tech", "/api/blend/tech/atlantis"):
        error = _error(client.get(url), 404)
        assert error["choices"] == ["pokemon", "ikea", "tech", "rhcp", "sonnets", "notes", "ipsum"]
        assert error["message"].startswith("unknown corpus 'atlantis'")


@pytest.mark.parametrize(
    ("url", "argv"),
    [
        ("/api/blend/pokemon/tech?weight=2", ["generate", "--corpus", "pokemon", "--blend", "tech:2"]),
        (
            "/api/blend/pokemon/tech?mode=sum",
            None,  # argparse refuses the choice itself; the service's message is checked below
        ),
        ("/api/blend/pokemon/sonnets", ["generate", "--corpus", "pokemon", "--blend", "sonnets"]),
        (
            "/api/blend/pokemon/tech?state_size=9",
            ["generate", "--corpus", "pokemon", "--blend", "tech", "--state-size", "9"],
        ),
    ],
)
def test_a_bad_blend_value_is_422(client, capsys, url, argv):
    message = _error(client.get(url), 422)["message"]
    if argv is None:
        assert message == "unknown blend 'sum': choose mixture or product"
    else:
        assert message == _cli_error(argv, capsys)


def test_blend_refuses_parameters_it_does_not_take(client):
    message = _error(client.get("/api/blend/pokemon/tech?smoothing=kneser-ney"), 422)["message"]
    assert message.startswith("smoothing does not apply to a blend")
    assert _error(client.get("/api/blend/pokemon/tech?n=1&n=2"), 422)["message"] == "n is given more than once"


# ------------------------------------------------------------------ schema
def test_openapi_documents_the_hunt_and_its_limits(client):
    paths = client.get("/openapi.json").json()["paths"]
    generate = {p["name"]: p for p in paths["/api/{model}/{corpus}/generate"]["get"]["parameters"]}
    for key in ("contains", "not_contains", "excludes", "like"):
        assert generate[key]["schema"] == {"type": "array", "items": {"type": "string"}}
        assert generate[key]["explode"] is True
    assert "16" in generate["contains"]["description"] and "64 tokens" in generate["starts_with"]["description"]
    assert "pypi, npm, cran" in generate["free_on"]["description"]
    assert "random, score, similarity" in generate["sort"]["description"]
    check = paths["/api/check"]["get"]["parameters"]
    assert check[0]["name"] == "name" and check[0]["required"] and "1..100" in check[0]["description"]
    blend = {p["name"]: p["description"] for p in paths["/api/blend/{corpus_a}/{corpus_b}"]["get"]["parameters"]}
    assert "0..1,000" in blend["n"] and "1..40" in blend["max_length"]
    assert set(blend) == {"corpus_a", "corpus_b", "weight", "state_size", "mode", "n", "seed", "max_length"} | {
        "include_existing"
    }
    body = paths["/api/{model}/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"starts_with", "contains", "free_on", "like", "sort"} <= set(body["properties"])
