"""The bounded reader: only regular files, never more than limit + 1 bytes, never a hang."""

from __future__ import annotations

import os
import threading

import pytest

import tnaas.data.corpus as corpus_module
import tnaas.data.reader as reader_module
from tnaas.data.corpus import load_corpus
from tnaas.data.reader import FileMissing, format_size, read_file
from tnaas.errors import TnaasError

NAMES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
DATA = ("\n".join(NAMES) + "\n").encode()


def finishes(fn, seconds: float = 5.0):
    """fn()'s raised exception (or None), failing the test instead of hanging if it blocks."""
    outcome = {}

    def run():
        try:
            fn()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error
        outcome["done"] = True

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome.get("done"), f"still running after {seconds} s (hang or unbounded read)"
    return outcome.get("error")


@pytest.fixture
def small_limit(monkeypatch):
    """A tiny limit: a regression that reads a special file does not eat the memory."""
    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 1000)


def refused(spec: str) -> str:
    error = finishes(lambda: load_corpus(spec))
    assert isinstance(error, TnaasError), f"expected a TnaasError, got {error!r}"
    message = str(error)
    assert "\n" not in message
    return message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_character_device_is_refused_without_reading(small_limit):
    assert "character device" in refused("/dev/zero")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_symlink_to_a_device_is_refused(tmp_path, small_limit):
    link = tmp_path / "names.txt"
    link.symlink_to("/dev/zero")
    assert "character device" in refused(str(link))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_at_once(tmp_path, small_limit):
    fifo = tmp_path / "names.txt"
    os.mkfifo(fifo)
    assert "FIFO" in refused(str(fifo))


def test_a_directory_is_refused(tmp_path):
    assert "is a directory" in refused(str(tmp_path))


def test_a_missing_file_is_file_missing(tmp_path):
    with pytest.raises(FileMissing, match="no such file"):
        read_file(tmp_path / "nowhere.txt", 100)
    with pytest.raises(FileMissing):
        read_file(tmp_path / "nowhere" / "deeper.txt", 100)  # a missing directory too


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    target = tmp_path / "real.txt"
    target.write_bytes(DATA)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert load_corpus(str(link)).items == tuple(NAMES)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_an_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_bytes(DATA)
    path.chmod(0)
    assert "permission denied" in refused(str(path))


def test_a_permission_error_on_open_is_one_clear_message(tmp_path, monkeypatch):
    # Runs even as root (where chmod 0 does not stop reading): the open itself fails.
    path = tmp_path / "secret.txt"
    path.write_bytes(DATA)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(reader_module.os, "open", denied)
    assert refused(str(path)) == f"cannot read {str(path)!r}: permission denied"


def test_never_reads_more_than_limit_plus_one_whatever_the_size_claims(tmp_path, monkeypatch):
    # The file claims 0 bytes (as /proc files and devices do) but holds 10,000.
    path = tmp_path / "liar.txt"
    path.write_bytes(b"x" * 10_000)
    real_stat, real_fstat, real_read = os.stat, os.fstat, os.read

    def claims_empty(result):
        fields = list(result)
        fields[6] = 0  # st_size
        return os.stat_result(fields)

    taken = []

    def counting_read(fd, n):
        chunk = real_read(fd, n)
        taken.append(len(chunk))
        return chunk

    monkeypatch.setattr(reader_module.os, "stat", lambda p: claims_empty(real_stat(p)))
    monkeypatch.setattr(reader_module.os, "fstat", lambda fd: claims_empty(real_fstat(fd)))
    monkeypatch.setattr(reader_module.os, "read", counting_read)
    with pytest.raises(TnaasError, match="larger than the limit of 100 bytes"):
        read_file(path, 100)
    assert sum(taken) == 101


def test_a_file_of_exactly_the_limit_is_read(tmp_path):
    path = tmp_path / "names.txt"
    path.write_bytes(DATA)
    assert read_file(path, len(DATA)) == DATA
    with pytest.raises(TnaasError, match="limit"):
        read_file(path, len(DATA) - 1)


def test_a_file_that_is_replaced_by_a_fifo_after_the_check_is_refused(tmp_path, monkeypatch):
    # TOCTOU: the path is a regular file when stat'ed, a FIFO when opened.
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / "names.txt"
    path.write_bytes(DATA)
    real_stat = os.stat

    def stat_then_swap(p):
        result = real_stat(p)
        os.remove(p)
        os.mkfifo(p)
        return result

    monkeypatch.setattr(reader_module.os, "stat", stat_then_swap)
    error = finishes(lambda: read_file(path, 1000))
    assert isinstance(error, TnaasError) and "FIFO" in str(error)


def test_a_huge_sparse_file_is_refused_with_a_sensible_size(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:
        handle.truncate(3 * 1024**4)  # 3 TB claimed, nothing stored
    message = refused(str(path))
    assert message == f"{str(path)} is 3 TB; the limit is 25 MB"


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (40, "40 bytes"),
        (1023, "1,023 bytes"),
        (1024, "1 KB"),
        (1536, "1.5 KB"),
        (1024**2 - 1, "1 MB"),
        (25 * 1024**2, "25 MB"),
        (3 * 1024**4, "3 TB"),
        (2**63, "8,192 PB"),
    ],
)
def test_format_size_is_short_and_sane(n, text):
    assert format_size(n) == text


def test_a_size_just_over_the_limit_does_not_read_as_equal(tmp_path, monkeypatch):
    path = tmp_path / "names.txt"
    path.write_bytes(b"x" * (25 * 1024**2 + 1))
    message = refused(str(path))
    assert message == f"{str(path)} is larger than the limit of 25 MB"
