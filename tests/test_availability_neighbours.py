"""The near-miss lookup's neighbour generation against brute force over every short string."""

from __future__ import annotations

from itertools import product

from tnaas.tasks import availability as av


def strings(alphabet: str, longest: int) -> list[str]:
    return ["".join(p) for n in range(longest + 1) for p in product(alphabet, repeat=n)]


def test_one_edit_neighbours_in_a_name_set_equal_brute_force():
    alphabet = "ab-"
    for lengths in (range(0, 5), range(2, 4)):
        names = {name for name in strings(alphabet, 4) if len(name) in lengths}
        # Queries also use a character the names never do (x) and run past the longest name.
        for word in strings("abx-", 3) + ["ababa", "aabbaa"]:
            expected = {name for name in names if av.within_one_edit(word, name)}
            found = av.one_edit_neighbours_in(word, names, alphabet, lengths)
            assert len(found) == len(set(found)) and set(found) == expected, (word, lengths)
