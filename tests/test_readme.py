"""The README's command-line examples are run and must print exactly what the README shows."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from tnaas.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def console_examples() -> list[tuple[str, str]]:
    """(command line, expected stdout) for every `$ python -m tnaas …` in console blocks."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            if not command.startswith("curl "):  # the API's, run by tests/test_readme_api.py
                examples.append((command, output))
    return examples


def test_readme_has_examples():
    assert len(console_examples()) >= 5


@pytest.mark.parametrize("command,expected", console_examples(), ids=[c for c, _ in console_examples()])
def test_readme_example_prints_what_the_readme_says(command, expected):
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "tnaas"]
    out = io.StringIO()
    main(argv[3:], out=out)
    assert out.getvalue() == expected
