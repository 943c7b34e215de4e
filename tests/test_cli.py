"""The command line: every subcommand's output, and bad input as one line on stderr with exit 2.

Most tests call `tnaas.cli.main` in-process; a few run `python -m tnaas` for real to prove
the entry point and that nothing but one line reaches stderr.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tnaas.cli import main
from tnaas.data.corpus import MIN_ITEMS, bundled_names, load_bundled, manifest
from tnaas.data.tokens import tokenize

REPO = Path(__file__).resolve().parent.parent


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit status, stdout, stderr)."""
    out = io.StringIO()
    status = main(argv, out=out)
    captured = capsys.readouterr()
    assert captured.out == "", "everything goes to `out`, nothing straight to stdout"
    return status, out.getvalue(), captured.err


def run_ok(argv: list[str], capsys) -> str:
    status, out, err = run(argv, capsys)
    assert (status, err) == (0, ""), err
    return out


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status == 2
    assert err.count("\n") == 1 and err.endswith("\n"), f"one line on stderr, got {err!r}"
    assert err.startswith("tnaas: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


def lines(text: str) -> list[str]:
    return text.splitlines()


@pytest.fixture
def names_file(tmp_path) -> Path:
    """Seven made-up names: all their characters are in the Pokémon corpus, most of their
    transitions are not."""
    path = tmp_path / "names.txt"
    path.write_text("Pikachu\nZqxzq\nBulbasaur\nXxqzz\nQwqwq\nCharmander\nZzzyx\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- corpora and corpus


def test_corpora_lists_every_bundled_corpus(capsys):
    table = lines(run_ok(["corpora"], capsys))
    assert table[0].split()[:4] == ["name", "title", "tokens", "items"]
    assert [row.split()[0] for row in table[1:]] == bundled_names()
    for row, entry in zip(table[1:], manifest()):
        assert entry["title"] in row and entry["tokens"] in row and f"{entry['items']:,}" in row


def test_corpus_prints_one_item_per_line(capsys):
    assert tuple(lines(run_ok(["corpus", "rhcp"], capsys))) == load_bundled("rhcp").items


def test_corpus_json_is_a_list_of_items(capsys):
    assert tuple(json.loads(run_ok(["corpus", "pokemon", "--json"], capsys))) == load_bundled("pokemon").items


def test_corpus_reads_a_file(names_file, capsys):
    assert lines(run_ok(["corpus", str(names_file)], capsys))[:2] == ["Pikachu", "Zqxzq"]


# --------------------------------------------------------------------------- generate


def test_generate_n_new_items_with_a_seed(capsys):
    argv = ["generate", "--corpus", "pokemon", "-n", "12", "--seed", "7"]
    items = lines(run_ok(argv, capsys))
    assert len(items) == len(set(items)) == 12
    assert not set(items) & set(load_bundled("pokemon").items)
    assert lines(run_ok(argv, capsys)) == items, "same seed, same output"
    assert lines(run_ok(argv[:-1] + ["8"], capsys)) != items


def test_generate_json_and_options(capsys):
    argv = ["generate", "--corpus", "rhcp", "--state-size", "1", "-n", "5", "--seed", "3", "--json"]
    answer = json.loads(run_ok(argv, capsys))
    items = answer["items"]
    assert isinstance(items, list) and len(items) == 5 and all(isinstance(item, str) for item in items)
    assert answer["seed"] == 3 and answer["model"] == {
        "name": "markov",
        "params": {"smoothing": "none", "state_size": 1},
    }
    assert answer["corpus"]["name"] == "rhcp" and answer["corpus"]["content_hash"] == load_bundled("rhcp").content_hash
    hot = json.loads(run_ok([*argv, "--temperature", "2.5"], capsys))
    assert hot["items"] != items and hot["temperature"] == 2.5


def test_generate_include_existing(capsys):
    argv = ["generate", "--corpus", "rhcp", "--state-size", "4", "-n", "20", "--seed", "0", "--include-existing"]
    items = lines(run_ok(argv, capsys))
    assert len(items) == 20 and set(items) & set(load_bundled("rhcp").items)


def test_generate_shortfall_prints_what_it_found_and_exits_1(capsys):
    status, out, err = run(["generate", "--corpus", "rhcp", "--state-size", "2", "-n", "100", "--seed", "0"], capsys)
    assert status == 1
    assert err.count("\n") == 1 and "found only" in err and "Traceback" not in err
    found = int(re.search(r"found only (\d+)", err)[1])
    assert len(lines(out)) == found


@pytest.mark.parametrize(("flags", "low", "high"), [(["--length", "5"], 5, 5), (["--length-dist", "4-6"], 4, 6)])
def test_generate_lengths(capsys, flags, low, high):
    items = lines(run_ok(["generate", "--corpus", "pokemon", "-n", "10", "--seed", "1", *flags], capsys))
    assert len(items) == 10 and all(low <= len(item) <= high for item in items)


def test_generate_corpus_lengths(capsys):
    allowed = {len(tokenize(item, "words")) for item in load_bundled("rhcp").items}
    argv = ["generate", "--corpus", "rhcp", "--state-size", "1", "-n", "10", "--seed", "2", "--length-dist", "corpus"]
    assert {len(item.split(" ")) for item in lines(run_ok(argv, capsys))} <= allowed


# --------------------------------------------------------------------------- complete


def test_complete_text(capsys):
    out = run_ok(["complete", "Pika**u", "--corpus", "pokemon", "--top", "3", "--samples", "4", "--seed", "0"], capsys)
    first = lines(out)[0]
    assert first.startswith("p(Pika**u) = ") and "[exact]" in first
    assert 0 < float(first.split("=")[1].split()[0]) <= 1
    assert re.search(r"^position 4: ", out, re.M) and re.search(r"^position 5: ", out, re.M)
    assert "most probable completions:" in out
    assert "  Pikachu" in out, "the corpus item itself is the likeliest completion"
    assert lines(out)[-1].startswith("samples: ")
    assert len(lines(out)[-1].removeprefix("samples: ").split(", ")) == 4


def test_complete_json_shape(capsys):
    argv = ["complete", "mo%", "--corpus", "tech", "--top", "5", "--samples", "6", "--seed", "1", "--json"]
    data = json.loads(run_ok(argv, capsys))
    assert {"pattern", "probability", "positions", "top", "samples"} <= data.keys()
    assert data["pattern"] == "mo%"
    assert 0 < data["probability"] <= 1
    assert data["positions"] and all(p.keys() == {"index", "distribution"} for p in data["positions"])
    for position in data["positions"]:
        assert math.isclose(sum(position["distribution"].values()), 1, rel_tol=1e-9)
        assert position["index"] >= 2, "the known letters are not unknown positions"
    assert len(data["top"]) == 5 and all(t.keys() == {"text", "probability"} for t in data["top"])
    probabilities = [t["probability"] for t in data["top"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-9
    assert len(data["samples"]) == 6
    assert all(text.startswith("mo") for text in [t["text"] for t in data["top"]] + data["samples"])
    assert json.loads(run_ok(argv, capsys)) == data, "same seed, same samples"


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_complete_an_impossible_pattern_exits_1_and_mentions_smoothing(capsys, json_flag):
    status, out, err = run(["complete", "qqqqq", "--corpus", "pokemon", *json_flag], capsys)
    assert status == 1 and err == ""
    message = json.loads(out)["message"] if json_flag else out
    assert "qqqqq" in message and "moothing" in message


def test_complete_with_smoothing_finds_what_the_chain_cannot(capsys):
    data = json.loads(
        run_ok(["complete", "Pikaqq", "--corpus", "pokemon", "--smoothing", "kneser-ney", "--json"], capsys)
    )
    assert data["probability"] > 0


# --------------------------------------------------------------------------- evaluate


def test_evaluate_without_smoothing_says_infinity_plainly(names_file, capsys):
    out = run_ok(["evaluate", "--train", "pokemon", "--test", str(names_file)], capsys)
    assert out.startswith("nll_per_token: infinity")
    assert "kneser-ney" in out
    assert "items: 7" in out


def test_evaluate_with_smoothing_is_finite(names_file, capsys):
    argv = ["evaluate", "--train", "pokemon", "--test", str(names_file), "--smoothing", "kneser-ney"]
    out = run_ok(argv, capsys)
    nll = float(re.search(r"^nll_per_token: ([0-9.]+) nats$", out, re.M)[1])
    perplexity = float(re.search(r"^perplexity: ([0-9.]+)$", out, re.M)[1])
    assert nll > 0 and math.isclose(perplexity, math.exp(nll), rel_tol=1e-3)
    data = json.loads(run_ok([*argv, "--json"], capsys))
    assert data["infinite"] is False and math.isclose(data["nll_per_token"], nll, abs_tol=1e-4)
    tokens = sum(len(line) + 1 for line in names_file.read_text().splitlines())
    assert data["tokens"] == tokens and data["items"] == 7


def test_evaluate_json_without_smoothing(names_file, capsys):
    data = json.loads(run_ok(["evaluate", "--train", "pokemon", "--test", str(names_file), "--json"], capsys))
    assert data["infinite"] is True
    assert data["nll_per_token"] is None and data["perplexity"] is None
    assert 0 < data["impossible_items"] < data["items"] == 7


def test_evaluate_on_the_training_corpus_is_finite(capsys):
    data = json.loads(run_ok(["evaluate", "--train", "rhcp", "--test", "rhcp", "--state-size", "1", "--json"], capsys))
    assert data["infinite"] is False and data["nll_per_token"] > 0


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def bad_files(tmp_path) -> dict[str, Path]:
    files = {
        "empty": tmp_path / "empty.txt",
        "binary": tmp_path / "binary.txt",
        "few": tmp_path / "few.txt",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(b"alpha\n\x00\x01\x02\x03beta\ngamma\ndelta\nepsilon\n")
    files["few"].write_text("alpha\nbeta\n", encoding="utf-8")
    return files


BAD = {
    "unknown corpus": (["generate", "--corpus", "digimon"], ["digimon", "pokemon"]),
    "missing file": (["generate", "--corpus", "no/such/file.txt"], ["no/such/file.txt"]),
    "state size 0": (["generate", "--corpus", "pokemon", "--state-size", "0"], ["state size"]),
    "state size 7": (["complete", "a*", "--corpus", "pokemon", "--state-size", "7"], ["state size"]),
    "state size text": (["generate", "--corpus", "pokemon", "--state-size", "three"], ["state size", "three"]),
    "negative n": (["generate", "--corpus", "pokemon", "-n", "-3"], ["-3"]),
    "unknown model": (["generate", "--corpus", "pokemon", "--model", "gpt"], ["gpt", "markov"]),
    "unknown subcommand": (["frobnicate"], ["frobnicate"]),
    "no subcommand": ([], ["command"]),
    "flag of another model": (
        ["generate", "--corpus", "pokemon", "--hidden-states", "4"],
        ["--hidden-states", "markov"],
    ),
    "unknown smoothing": (["generate", "--corpus", "pokemon", "--smoothing", "laplace"], ["laplace"]),
    "bad temperature": (["generate", "--corpus", "pokemon", "--temperature", "0"], ["temperature"]),
    "bad length": (["generate", "--corpus", "pokemon", "--length-dist", "long"], ["long"]),
    "both lengths": (["generate", "--corpus", "pokemon", "--length", "3", "--length-dist", "4-6"], ["--length"]),
    "unknown flag": (["corpora", "--colour"], ["--colour"]),
    "missing --train": (["evaluate", "--test", "rhcp"], ["--train"]),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_is_one_line_and_exit_2(case, capsys):
    argv, fragments = BAD[case]
    status, out, err = run(argv, capsys)
    assert out == ""
    assert_one_line_error(status, err, *fragments)


@pytest.mark.parametrize(
    ("which", "fragment"),
    [("empty", "is empty"), ("binary", "binary"), ("few", f"at least {MIN_ITEMS}")],
)
def test_bad_files_are_one_line_and_exit_2(bad_files, capsys, which, fragment):
    for argv in (
        ["generate", "--corpus", str(bad_files[which])],
        ["evaluate", "--train", "pokemon", "--test", str(bad_files[which])],
        ["corpus", str(bad_files[which])],
    ):
        status, out, err = run(argv, capsys)
        assert out == ""
        assert_one_line_error(status, err, fragment)


def test_a_directory_is_one_line_and_exit_2(tmp_path, capsys):
    status, _, err = run(["generate", "--corpus", str(tmp_path)], capsys)
    assert_one_line_error(status, err, "directory")


# --------------------------------------------------------------------------- the real entry point


def python_m_tnaas(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "tnaas", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_entry_point_lists_corpora():
    done = python_m_tnaas("corpora")
    assert done.returncode == 0 and done.stderr == ""
    assert [row.split()[0] for row in done.stdout.splitlines()[1:]] == bundled_names()


def test_entry_point_generates_what_main_generates(capsys):
    argv = ["generate", "--corpus", "pokemon", "-n", "5", "--seed", "11", "--json"]
    done = python_m_tnaas(*argv)
    assert done.returncode == 0 and done.stderr == ""
    assert len(json.loads(done.stdout)["items"]) == 5
    assert done.stdout == run_ok(argv, capsys), "same seed, same output, in or out of process"


def test_entry_point_bad_input_is_one_stderr_line():
    done = python_m_tnaas("generate", "--corpus", "pokemon", "--state-size", "0")
    assert done.returncode == 2 and done.stdout == ""
    assert_one_line_error(done.returncode, done.stderr, "state size")
