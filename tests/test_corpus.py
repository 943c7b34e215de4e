"""Corpora: the bundled ones match their manifest; every bad user file gets one clear message."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tnaas.data.corpus as corpus_module
from tnaas.data.corpus import (
    CORPORA_DIR,
    MAX_LINE_CHARS,
    MIN_ITEMS,
    Corpus,
    bundled_names,
    corpus_from_items,
    csv_columns,
    load_bundled,
    load_corpus,
    manifest,
    read_upload,
)
from tnaas.data.tokens import TOKEN_KINDS, detokenize, normalise, tokenize
from tnaas.errors import TnaasError

NAMES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
MANIFEST = manifest()


def lines_bytes(lines, end="\n") -> bytes:
    return end.join(lines).encode("utf-8") + end.encode()


# --------------------------------------------------------------------------- bundled


def test_manifest_lists_the_seven_corpora_in_order():
    assert bundled_names() == [entry["name"] for entry in MANIFEST]
    assert set(bundled_names()) >= {"pokemon", "ikea", "tech", "rhcp", "sonnets", "notes", "ipsum"}


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_bundled_corpus_matches_its_manifest_entry(entry):
    corpus = load_bundled(entry["name"])
    assert corpus.name == entry["name"]
    assert corpus.token_kind == entry["tokens"] in TOKEN_KINDS
    assert len(corpus.items) == entry["items"]
    for key in ("title", "source", "licence", "description"):
        assert entry[key].strip(), f"{key} is empty"
    assert corpus.title == entry["title"]
    assert corpus.source == entry["source"] and corpus.licence == entry["licence"]
    assert 1 <= entry["default_state_size"] <= 6
    assert corpus.default_state_size == entry["default_state_size"]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_bundled_file_is_one_clean_item_per_line(entry):
    text = (CORPORA_DIR / entry["file"]).read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) == entry["items"], "manifest count = line count"
    assert all(line.strip() for line in lines), "no blank lines"
    kind = entry["tokens"]
    # Every line is already normalised, so the corpus holds the file's lines verbatim.
    assert [normalise(line, kind) for line in lines] == lines
    assert load_bundled(entry["name"]).items == tuple(lines)


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_bundled_items_round_trip_tokenisation(entry):
    corpus = load_bundled(entry["name"])
    kind = corpus.token_kind
    for j, item in enumerate(corpus.items):
        tokens = tokenize(item, kind)
        assert tokens, f"item {j} is empty"
        assert detokenize(tokens, kind) == item
        assert corpus.lengths[j] == len(tokens)
    assert set(corpus.vocabulary) == {t for item in corpus.items for t in tokenize(item, kind)}


def test_load_corpus_by_name_returns_the_bundled_corpus():
    assert load_corpus("rhcp") is load_bundled("rhcp")


def test_load_corpus_can_retokenise_a_bundled_corpus():
    corpus = load_corpus("rhcp", token_kind="characters")
    assert corpus.token_kind == "characters"
    assert corpus.items == load_bundled("rhcp").items


def test_unknown_bundled_name_lists_the_bundled_names():
    with pytest.raises(TnaasError) as error:
        load_bundled("digimon")
    assert "digimon" in str(error.value)
    assert all(name in str(error.value) for name in bundled_names())


def test_content_hash_depends_on_items_and_kind():
    a = corpus_from_items(NAMES, "characters")
    assert a.content_hash == corpus_from_items(NAMES, "characters", name="other").content_hash
    assert a.content_hash != corpus_from_items(NAMES[::-1], "characters").content_hash
    assert a.content_hash != corpus_from_items(NAMES, "words").content_hash


# --------------------------------------------------------------------------- good user files


def test_text_file_blank_lines_and_surrounding_whitespace_are_ignored():
    data = b"  alpha  \n\n\tbeta\n   \ngamma\r\ndelta \n\n epsilon\n"
    corpus = read_upload(data, "names.txt")
    assert corpus.items == ("alpha", "beta", "gamma", "delta", "epsilon")
    assert corpus.token_kind == "characters"
    assert corpus.name == "names"


def test_duplicates_are_kept_by_default_and_dropped_with_dedupe():
    data = lines_bytes(["beta", "alpha", "beta", "gamma", "alpha", "delta", "epsilon"])
    assert read_upload(data, "n.txt").items == ("beta", "alpha", "beta", "gamma", "alpha", "delta", "epsilon")
    assert read_upload(data, "n.txt", dedupe=True).items == ("beta", "alpha", "gamma", "delta", "epsilon")


def test_utf8_bom_is_accepted_and_dropped():
    corpus = read_upload(b"\xef\xbb\xbf" + lines_bytes(["Åland", *NAMES]), "bom.txt")
    assert corpus.items[0] == "Åland"


def test_token_kind_is_inferred_or_taken_as_given():
    sentences = ["the cat sat on the mat", "a dog ran in the park", "we all live in a boat"] * 2
    assert read_upload(lines_bytes(sentences), "s.txt").token_kind == "words"
    assert read_upload(lines_bytes(sentences), "s.txt", token_kind="characters").token_kind == "characters"
    tunes = ["C4 D4 E4", "G4 A4 B4 C5", "F#4 G4", "Bb3 C4", "E4 E4 E4"]
    assert read_upload(lines_bytes(tunes), "t.txt").token_kind == "notes"


def test_csv_with_a_chosen_column():
    rows = ["name,type"] + [f"{name},letter" for name in NAMES]
    data = lines_bytes(rows)
    assert csv_columns(data, "greek.csv") == ["name", "type"]
    corpus = read_upload(data, "greek.csv", column="name")
    assert corpus.items == tuple(NAMES)
    assert read_upload(data, "greek.csv", column="type", dedupe=False).items == ("letter",) * len(NAMES)


def test_csv_with_one_column_needs_no_choice_and_handles_quotes():
    data = lines_bytes(["title", '"Hello, World"', *NAMES])
    assert read_upload(data, "titles.csv").items == ("Hello, World", *NAMES)


def test_csv_with_a_missing_column_lists_the_columns():
    data = lines_bytes(["name,type"] + [f"{name},letter" for name in NAMES])
    with pytest.raises(TnaasError) as error:
        read_upload(data, "greek.csv", column="label")
    message = str(error.value)
    assert "'label'" in message and "name" in message and "type" in message


def test_csv_with_several_columns_and_no_choice_asks_for_one():
    data = lines_bytes(["name,type,rank"] + [f"{name},letter,{i}" for i, name in enumerate(NAMES)])
    with pytest.raises(TnaasError, match="3 columns") as error:
        read_upload(data, "greek.csv")
    assert "name, type, rank" in str(error.value) and "choose" in str(error.value)


def test_tsv_uses_tabs():
    data = lines_bytes(["name\tnote"] + [f"{name}\tx, y" for name in NAMES])
    assert read_upload(data, "greek.tsv", column="note").items == ("x, y",) * len(NAMES)
    assert read_upload(data, "greek.tsv", column="name").items == tuple(NAMES)


def test_gzip_text_and_csv_are_decompressed():
    assert read_upload(gzip.compress(lines_bytes(NAMES)), "greek.txt.gz").items == tuple(NAMES)
    csv_data = gzip.compress(lines_bytes(["name,type"] + [f"{name},letter" for name in NAMES]))
    assert read_upload(csv_data, "greek.csv.gz", column="name").items == tuple(NAMES)


def test_a_file_on_disk_loads_by_path(tmp_path):
    path = tmp_path / "greek.txt"
    path.write_bytes(lines_bytes(NAMES))
    corpus = load_corpus(str(path))
    assert corpus.items == tuple(NAMES)
    assert corpus.title == "greek.txt"


# --------------------------------------------------------------------------- bad user files


def test_binary_content_is_refused():
    with pytest.raises(TnaasError, match="binary"):
        read_upload(b"alpha\nbe\x00ta\ngamma\ndelta\nepsilon\n", "names.txt")


def test_control_characters_are_refused():
    with pytest.raises(TnaasError, match="control character"):
        read_upload(b"alpha\nbe\x07ta\ngamma\ndelta\nepsilon\n", "names.txt")


def test_latin1_bytes_are_refused_with_the_byte_and_position():
    data = "alpha\ncafé\ngamma\ndelta\nepsilon\n".encode("latin-1")
    with pytest.raises(TnaasError) as error:
        read_upload(data, "names.txt")
    message = str(error.value)
    assert "UTF-8" in message
    assert "0xe9" in message and f"position {data.index(0xE9)}" in message


@pytest.mark.parametrize("data", [b"", b"   \n\n\t \r\n  \n"], ids=["empty", "whitespace-only"])
def test_empty_files_are_refused(data):
    with pytest.raises(TnaasError, match="names.txt is empty"):
        read_upload(data, "names.txt")


def test_too_few_items_says_how_many_are_needed():
    few = NAMES[: MIN_ITEMS - 2]
    with pytest.raises(TnaasError) as error:
        read_upload(lines_bytes(few), "names.txt")
    message = str(error.value)
    assert f"only {len(few)} item" in message
    assert f"at least {MIN_ITEMS}" in message


def test_exactly_min_items_is_enough():
    assert len(read_upload(lines_bytes(NAMES[:MIN_ITEMS]), "names.txt").items) == MIN_ITEMS


def test_dedupe_can_leave_too_few_items():
    with pytest.raises(TnaasError, match=f"at least {MIN_ITEMS}"):
        read_upload(lines_bytes(["same"] * 10), "names.txt", dedupe=True)


def test_too_large_upload_is_refused(monkeypatch):
    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 40)
    data = lines_bytes(NAMES * 3)
    assert len(data) > 40
    with pytest.raises(TnaasError, match="limit"):
        read_upload(data, "names.txt")
    # The limit applies after decompression: a small .gz of a big text is still too big.
    with pytest.raises(TnaasError, match="limit"):
        read_upload(gzip.compress(data), "names.txt.gz")


def test_too_large_file_on_disk_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_bytes(lines_bytes(NAMES * 3))
    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 40)
    with pytest.raises(TnaasError, match="big.txt.*limit"):
        load_corpus(str(path))


def test_an_absurdly_long_line_is_refused_with_its_line_number():
    lines = [*NAMES[:3], "x" * (MAX_LINE_CHARS + 1), *NAMES[3:]]
    with pytest.raises(TnaasError) as error:
        read_upload(lines_bytes(lines), "names.txt")
    message = str(error.value)
    assert message.startswith("line 4 ")
    assert f"{MAX_LINE_CHARS:,}" in message


def test_invalid_gzip_is_refused():
    with pytest.raises(TnaasError, match="not a valid gzip"):
        read_upload(lines_bytes(NAMES), "names.txt.gz")


def test_notes_with_a_bad_token_name_the_token_and_line():
    tunes = ["C4 D4 E4", "G4 A4 B4", "C4 H4 D4", "E4 F4", "G4 G4"]
    with pytest.raises(TnaasError) as error:
        read_upload(lines_bytes(tunes), "tunes.txt", token_kind="notes")
    message = str(error.value)
    assert "line 3" in message and "'H4'" in message


def test_unknown_token_kind_is_refused():
    with pytest.raises(TnaasError, match="unknown token kind"):
        read_upload(lines_bytes(NAMES), "names.txt", token_kind="syllables")


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(TnaasError, match="is a directory"):
        load_corpus(str(tmp_path))


def test_a_missing_path_lists_the_bundled_names(tmp_path):
    missing = str(tmp_path / "nowhere.txt")
    with pytest.raises(TnaasError) as error:
        load_corpus(missing)
    message = str(error.value)
    assert "nowhere.txt" in message and "no such file" in message
    assert all(name in message for name in bundled_names())


def test_upper_case_gz_extension_is_decompressed_like_upper_case_csv():
    assert read_upload(gzip.compress(lines_bytes(NAMES)), "NAMES.TXT.GZ").items == tuple(NAMES)


# --------------------------------------------------------------------------- CSV decisions


def csv_bytes(rows) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8")


def one_line_error(call) -> str:
    with pytest.raises(TnaasError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message, "messages are one line"
    return message


def test_csv_field_beyond_the_csv_module_limit_is_one_clear_error():
    rows = ["name,note", *[f"{n},x" for n in NAMES], 'omega,"' + "y" * 200_000 + '"']
    message = one_line_error(lambda: read_upload(csv_bytes(rows), "greek.csv", column="name"))
    assert message.startswith(f"greek.csv, line {len(rows)}: a field is longer than")


def test_csv_unclosed_quote_names_the_line_where_it_opens():
    rows = ["name", *NAMES, '"omega', "psi", "chi"]
    message = one_line_error(lambda: read_upload(csv_bytes(rows), "greek.csv"))
    assert message == f'greek.csv, line {len(NAMES) + 2}: a quoted field is never closed (a " without its pair)'


def test_csv_text_after_a_closing_quote_is_refused_with_its_line():
    rows = ["name", *NAMES[:2], '"omega"x', *NAMES[2:]]
    message = one_line_error(lambda: read_upload(csv_bytes(rows), "greek.csv"))
    assert message.startswith("greek.csv, line 4: text after a closing quote")


@pytest.mark.parametrize("bad", ["omega,letter,extra", "omega"], ids=["too-many", "too-few"])
def test_csv_ragged_row_is_refused_naming_the_first_bad_line(bad):
    rows = ["name,type", *[f"{n},letter" for n in NAMES[:3]], bad, *[f"{n},letter" for n in NAMES[3:]], bad]
    message = one_line_error(lambda: read_upload(csv_bytes(rows), "greek.csv", column="name"))
    fields = bad.count(",") + 1
    assert message.startswith(f"greek.csv, line 5 has {fields} field")
    assert "the header has 2" in message and "quote a field that contains a ','" in message


def test_tsv_ragged_row_names_the_tab():
    rows = ["name\tnote", *[f"{n}\tx" for n in NAMES], "a\tb\tc"]
    message = one_line_error(lambda: read_upload(csv_bytes(rows), "greek.tsv", column="name"))
    assert "line 8 has 3 fields" in message and "a tab" in message


def test_csv_blank_lines_are_skipped_and_line_numbers_are_the_files():
    rows = ["name,type", "", *[f"{n},letter" for n in NAMES], "", "x" * (MAX_LINE_CHARS + 1) + ",letter"]
    assert read_upload(csv_bytes(rows[:-1]), "greek.csv", column="name").items == tuple(NAMES)
    message = one_line_error(lambda: read_upload(csv_bytes(rows), "greek.csv", column="name"))
    assert message.startswith(f"line {len(rows)} has")  # the file's line, not the item's index


def test_csv_line_numbers_count_physical_lines_of_multiline_fields():
    rows = ["tune", '"C4\nD4"', "E4 F4", "G4 A4", "B4 C5", "C4 H4"]
    message = one_line_error(lambda: read_upload(csv_bytes(rows), "tunes.csv", token_kind="notes"))
    assert message.startswith("line 7: 'H4'")


def test_csv_with_a_duplicated_column_name_is_refused():
    rows = ["name,name", *[f"{n},{n}" for n in NAMES]]
    message = one_line_error(lambda: read_upload(csv_bytes(rows), "greek.csv", column="name"))
    assert "2 columns named 'name'" in message


def test_csv_with_no_header_is_refused():
    message = one_line_error(lambda: read_upload(b"\n\n" + csv_bytes(NAMES), "greek.csv"))
    assert "no header" in message


def test_csv_columns_reports_malformed_headers_as_errors():
    message = one_line_error(lambda: csv_columns(b'"name,type\nalpha,x\n', "greek.csv"))
    assert "never closed" in message


def test_column_on_a_text_file_is_refused():
    message = one_line_error(lambda: read_upload(lines_bytes(NAMES), "names.txt", column="name"))
    assert "'name'" in message and "names.txt is a text file" in message and ".csv" in message
    message = one_line_error(lambda: read_upload(gzip.compress(lines_bytes(NAMES)), "names.txt.gz", column="x"))
    assert "text file" in message


def test_column_on_a_bundled_corpus_is_refused():
    message = one_line_error(lambda: load_corpus("pokemon", column="name"))
    assert "bundled corpus" in message


def test_column_on_a_text_file_on_disk_is_refused(tmp_path):
    path = tmp_path / "greek.txt"
    path.write_bytes(lines_bytes(NAMES))
    assert "text file" in one_line_error(lambda: load_corpus(str(path), column="name"))


# --------------------------------------------------------------------------- whole-content checks

FILLER = [f"name{i}" for i in range(8_000)]  # well past 64 KB


@pytest.mark.parametrize("char", ["\x1b", "\x07", "\x7f", "\x9b", "\x85", "\x0c", "\x0b"])
def test_a_control_character_anywhere_is_refused_with_its_line(char):
    lines = [*FILLER, f"late{char}name", *NAMES]
    data = lines_bytes(lines)
    assert data.index(char.encode()) > 65536
    message = one_line_error(lambda: read_upload(data, "names.txt"))
    assert message == (
        f"names.txt contains a control character (U+{ord(char):04X}) on line {len(FILLER) + 1:,}: is it a binary file?"
    )


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_a_bidirectional_control_is_refused_with_its_line(char):
    lines = [*FILLER, f"late{char}name", *NAMES]
    message = one_line_error(lambda: read_upload(lines_bytes(lines), "names.txt"))
    assert message.startswith(
        f"names.txt contains a bidirectional control character (U+{ord(char):04X}) on line {len(FILLER) + 1:,}:"
    )


def test_other_characters_near_the_bidi_controls_are_kept():
    # en dash, zero-width joiner, superscript four: same UTF-8 lead bytes, not controls
    corpus = read_upload(lines_bytes(["a\u2013b", "c\u200dd", "e\u2074f", *NAMES]), "names.txt")
    assert list(corpus.items[:3]) == ["a\u2013b", "c\u200dd", "e\u2074f"]


def test_a_bidirectional_control_in_free_text_is_refused():
    from tnaas.validation import check_text

    assert "bidirectional control" in one_line_error(lambda: check_text("ab\u202ecd", "pattern", 100))


def test_a_late_control_character_in_a_csv_is_refused():
    rows = ["name,type", *[f"{n},x" for n in FILLER], "bad\x1b[31m,x"]
    assert "control character (U+001B)" in one_line_error(lambda: read_upload(csv_bytes(rows), "n.csv", column="name"))


def test_a_late_nul_means_binary():
    data = lines_bytes([*FILLER, "be\x00ta", *NAMES])
    assert "binary" in one_line_error(lambda: read_upload(data, "names.txt"))


def test_control_line_numbers_follow_carriage_return_line_ends():
    data = b"alpha\rbeta\r\ngamma\rde\x1blta\repsilon\r"
    assert "on line 4:" in one_line_error(lambda: read_upload(data, "names.txt"))


def test_latin1_supplement_letters_and_symbols_are_not_controls():
    items = ["£ sterling", "90°", "©opy", "nbsp\u00a0here", "ÿes", "¡olé!"]
    assert read_upload(lines_bytes(items), "symbols.txt").items == tuple(items)


def test_carriage_return_only_line_ends_split_lines():
    assert read_upload(lines_bytes(NAMES, end="\r"), "mac.txt").items == tuple(NAMES)


def test_corrupt_deflate_data_is_an_invalid_gzip():
    # A valid 10-byte gzip header, then a deflate block of the reserved type 3: zlib.error, not OSError.
    packed = gzip.compress(b"x")[:10] + b"\x07" + bytes(16)
    assert "not a valid gzip" in one_line_error(lambda: read_upload(packed, "names.txt.gz"))


def test_a_gzip_bomb_stops_at_the_limit(monkeypatch):
    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 64 * 1024)
    bomb = gzip.compress(b"a\n" * 20_000_000)  # 40 MB of output from ~40 KB
    assert len(bomb) < 64 * 1024
    assert one_line_error(lambda: read_upload(bomb, "bomb.txt.gz")) == (
        "bomb.txt.gz decompresses to more than 64 KB, the limit"
    )


def test_the_limit_message_has_sane_numbers(monkeypatch):
    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 40)
    data = lines_bytes(NAMES * 3)
    assert one_line_error(lambda: read_upload(data, "names.txt")) == (
        f"names.txt is {len(data)} bytes; the limit is 40 bytes"
    )


# --------------------------------------------------------------------------- one item, one line

LINE_BREAK_CHARS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("kind", TOKEN_KINDS)
@pytest.mark.parametrize("brk", LINE_BREAK_CHARS, ids=[repr(b) for b in LINE_BREAK_CHARS])
def test_a_line_break_inside_an_item_becomes_a_space_on_the_funnel(brk, kind):
    first = "C4" + brk + "D4" if kind == "notes" else "a" + brk + brk + "b"
    items = [first, *(["E4"] * 5 if kind == "notes" else NAMES)]
    corpus = corpus_from_items(items, kind)
    assert corpus.items[0] == ("C4 D4" if kind == "notes" else "a b")
    assert not any(ch in item for item in corpus.items for ch in "".join(LINE_BREAK_CHARS))


def test_a_quoted_csv_field_over_several_lines_is_one_item_with_a_space():
    rows = ["name", '"Mr.\nMime"', '"Ho\r\n\r\nOh"', *NAMES]
    assert read_upload(csv_bytes(rows), "p.csv").items == ("Mr. Mime", "Ho Oh", *NAMES)


def test_unicode_line_separators_in_a_text_file_stay_in_their_line_as_a_space():
    data = lines_bytes(["Mr.\u2028Mime", "Ho\u2029Oh", *NAMES])
    assert read_upload(data, "p.txt").items == ("Mr. Mime", "Ho Oh", *NAMES)


def test_an_unpaired_surrogate_is_a_tnaas_error():
    with pytest.raises(TnaasError, match="surrogate"):
        corpus_from_items(["a\ud800b", *NAMES], "characters")


# --------------------------------------------------------------------------- cache key


@pytest.mark.parametrize(
    "a, b",
    [
        (("characters", ["a\nb"]), ("characters", ["a", "b"])),
        (("characters", ["ab", "c"]), ("characters", ["a", "bc"])),
        (("characters", ["ab", ""]), ("characters", ["a", "b"])),
        (("characters", ["", "ab"]), ("characters", ["ab", ""])),
        (("characters", []), ("characters", [""])),
        (("characters", ["a b"]), ("words", ["a b"])),
        (("words", ["notes"]), ("notes", ["words"])),
    ],
)
def test_content_hash_separates_adversarial_pairs(a, b):
    assert corpus_key(*a) != corpus_key(*b)


def test_a_multiline_csv_field_and_a_text_file_of_its_lines_differ():
    txt = read_upload(lines_bytes(["a", "b", *NAMES]), "n.txt")
    csv_corpus = read_upload(csv_bytes(["name", '"a\nb"', *NAMES]), "n.csv")
    assert txt.content_hash != csv_corpus.content_hash


def test_content_hash_ignores_name_and_provenance():
    a = Corpus(name="a", title="A", token_kind="characters", items=("x", "y"))
    b = Corpus(name="b", title="B", token_kind="characters", items=("x", "y"), source="s", credit="c")
    assert a.content_hash == b.content_hash


# Items over a tiny alphabet, with separators; the second list is often a re-cut of the first
# (same concatenation, or same newline-joined text), the pairs that ambiguous encodings confuse.
item_lists = st.lists(st.text(alphabet="ab\n\x00 ", max_size=3), max_size=5)


def corpus_key(kind, items):
    return Corpus(name="x", title="x", token_kind=kind, items=tuple(items)).content_hash


@st.composite
def recut(draw, items):
    joined = draw(st.sampled_from(["", "\n"])).join(items)
    cuts = sorted(draw(st.lists(st.integers(0, len(joined)), max_size=4)))
    bounds = [0, *cuts, len(joined)]
    return [joined[i:j] for i, j in zip(bounds, bounds[1:])]


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(data=st.data(), kind_a=st.sampled_from(TOKEN_KINDS), a=item_lists, kind_b=st.sampled_from(TOKEN_KINDS))
def test_content_hash_is_injective(data, kind_a, a, kind_b):
    b = data.draw(st.one_of(item_lists, recut(a), st.just("\n".join(a).split("\n"))))
    assert (corpus_key(kind_a, a) == corpus_key(kind_b, b)) == ((kind_a, a) == (kind_b, b))
