"""Build TNaaS's bundled corpora from the raw material in ``shared/corpora-sources``.

Usage::

    python3 scripts/build_corpora.py [SOURCE_DIR]

``SOURCE_DIR`` defaults to ``<repo>/../shared/corpora-sources``. The script writes one
``<name>.txt`` per corpus into ``tnaas/data/corpora/`` (UTF-8, one item per line, single spaces, no blank
lines, trailing newline) plus ``manifest.json`` describing every corpus: its tokenisation,
default Markov state size, item count, provenance, licence and required credit.

The build is deterministic: it only reads the source files, keeps their order and never
depends on the clock, the locale or hash ordering, so running it twice gives identical files.
It uses the standard library only. See ``SOURCES.md`` in the source directory for where each
raw file comes from. No song lyrics are used anywhere: the RHCP corpus is song *titles* only.
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "tnaas" / "data" / "corpora"
DEFAULT_SOURCES = Path(__file__).resolve().parents[2] / "shared" / "corpora-sources"

PYPI_TOP = 6000
NPM_TOP = 3000
PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")
NOTE_TOKEN = re.compile(r"^[A-G](#|b)?-?[0-9]$")
MIN_TUNE_NOTES = 8

# A leading all-caps word such as "FROM" in "FROM fairest creatures ...".
LEADING_CAPS_WORD = re.compile(r"^([A-Z]{2,})(?![A-Za-z])")
# Empty editorial brackets marking a lacuna, e.g. "[         ] these rebel powers".
EMPTY_BRACKETS = re.compile(r"\[\s*\]")
# Roman first-name abbreviations ("P. Scaevola", "Cn. Octavius", "M'. Curius") at the end of
# a line: the sentence splitter of the source broke the sentence after them.
PRAENOMEN_AT_END = re.compile(
    r"(?:^|\s)(?:A|Ap|C|Cn|D|K|L|M|M['’]|Mam|N|P|Q|Ser|Sex|Sp|T|Ti)\.$"
)
SENTENCE_END = (".", "?", "!", ":", ";", "—")


def clean(text: str) -> str:
    """Return ``text`` NFC-normalised, without control/format characters, whitespace collapsed.

    Control characters (tabs, stray CRs, ...) become spaces, format characters (BOM, zero-width
    spaces, ...) are removed, runs of whitespace become one space and the ends are stripped.
    """
    text = unicodedata.normalize("NFC", text)
    chars = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            chars.append(" ")
        elif category != "Cf":
            chars.append(char)
    return " ".join("".join(chars).split())


def read_lines(path: Path) -> list[str]:
    """Read a UTF-8 text file (BOM tolerated) and return its cleaned, non-empty lines."""
    text = path.read_text(encoding="utf-8-sig")
    lines = (clean(line) for line in text.splitlines())
    return [line for line in lines if line]


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Read a tab-separated file with a header row into a list of dicts (cells cleaned)."""
    text = path.read_text(encoding="utf-8-sig")
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    header = [clean(cell) for cell in rows[0]]
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"{path.name}:{number}: expected {len(header)} fields")
        records.append({key: clean(cell) for key, cell in zip(header, row)})
    return records


def unique(items: list[str]) -> list[str]:
    """Return ``items`` without repeats, keeping the first occurrence of each."""
    return list(dict.fromkeys(items))


def build_tech(sources: Path) -> tuple[list[str], dict[str, int]]:
    """Mix PyPI, npm and CRAN package names; return the names and per-ecosystem counts.

    Takes the top PyPI names by rank and the top npm names by monthly downloads, plus all
    CRAN names; lower-cases them, drops implausible package names (pattern or length 2-30)
    and de-duplicates across ecosystems, keeping the first occurrence (PyPI, npm, CRAN).
    """
    pypi = read_tsv(sources / "tech_pypi_top_ranked.tsv")
    pypi.sort(key=lambda row: int(row["rank"]))
    npm = read_tsv(sources / "tech_npm_top_simple_ranked.tsv")
    npm.sort(key=lambda row: (-int(row["downloads_a_month"]), row["name"]))
    ecosystems = {
        "pypi": [row["name"] for row in pypi[:PYPI_TOP]],
        "npm": [row["name"] for row in npm[:NPM_TOP]],
        "cran": read_lines(sources / "tech_cran_debian.txt"),
    }
    seen: set[str] = set()
    names: list[str] = []
    stats: dict[str, int] = {}
    for ecosystem, raw in ecosystems.items():
        plausible = [
            name
            for name in (item.lower() for item in raw)
            if PACKAGE_NAME.match(name) and 2 <= len(name) <= 30
        ]
        added = [name for name in unique(plausible) if name not in seen]
        seen.update(added)
        names.extend(added)
        stats[f"{ecosystem}_taken"] = len(raw)
        stats[f"{ecosystem}_implausible"] = len(raw) - len(plausible)
        stats[ecosystem] = len(added)
    return names, stats


def fix_leading_caps(line: str) -> str:
    """Title-case a typographic all-caps first word ("FROM fairest" -> "From fairest")."""
    match = LEADING_CAPS_WORD.match(line)
    if match and any(char.islower() for char in line[match.end() :]):
        word = match.group(1)
        return word[0] + word[1:].lower() + line[match.end() :]
    return line


def build_sonnets(sources: Path) -> tuple[list[str], dict[str, int]]:
    """Return the sonnets' verse lines with typographic caps fixed and lacuna marks removed."""
    lines = []
    stats = {"caps_fixed": 0, "lacunae_removed": 0}
    for line in read_lines(sources / "sonnets_lines.txt"):
        fixed = fix_leading_caps(line)
        stats["caps_fixed"] += fixed != line
        without = clean(EMPTY_BRACKETS.sub(" ", fixed))
        stats["lacunae_removed"] += without != fixed
        if without:
            lines.append(without)
    return lines, stats


def build_notes(sources: Path) -> tuple[list[str], dict[str, int]]:
    """Return folk tunes as space-separated note tokens, one tune per line.

    Tunes with fewer than ``MIN_TUNE_NOTES`` notes or with any token outside
    ``NOTE_TOKEN`` (e.g. double sharps ``F##5``) are dropped. A tune whose notes exactly
    repeat an earlier tune of the same collection is a duplicated transcription file and is
    dropped too; the same tune in both collections is kept (both books print it).
    """
    tunes = []
    stats = {"short": 0, "bad_tokens": 0, "duplicate_files": 0}
    for filename in ("melodies_oneills1850.tsv", "melodies_ryansMammoth.tsv"):
        seen: set[str] = set()
        for row in read_tsv(sources / filename):
            tokens = row["tokens"].split()
            tune = " ".join(tokens)
            if len(tokens) < MIN_TUNE_NOTES:
                stats["short"] += 1
            elif not all(NOTE_TOKEN.match(token) for token in tokens):
                stats["bad_tokens"] += 1
            elif tune in seen:
                stats["duplicate_files"] += 1
            else:
                seen.add(tune)
                tunes.append(tune)
    return tunes, stats


def needs_continuation(sentence: str) -> bool:
    """Tell whether a source line is a sentence fragment that goes on in the next line."""
    return bool(PRAENOMEN_AT_END.search(sentence)) or not sentence.endswith(
        SENTENCE_END
    )


def build_ipsum(sources: Path) -> tuple[list[str], dict[str, int]]:
    """Return De finibus one sentence per line, repairing the source's sentence splitting.

    The source splits after Roman first-name abbreviations ("cum Cn." / "Octavio fuit") and
    at a few page breaks mid-sentence; such fragments are joined to the next line ("M'." +
    "que Manilium" gives "M'.que Manilium"). Lines without any letter (a lone dash) are
    dropped, and the editorial crux marks "†" are removed.
    """
    raw = [
        clean(line.replace("†", ""))
        for line in read_lines(sources / "ipsum_definibus.txt")
    ]
    stats = {"joined": 0, "no_letters": 0}
    sentences: list[str] = []
    pending = ""
    for line in raw:
        if not any(char.isalpha() for char in line):
            stats["no_letters"] += 1
            continue
        if pending:
            glue = "" if re.match(r"que\b", line) else " "
            line = pending + glue + line
            stats["joined"] += 1
        if needs_continuation(line):
            pending = line
        else:
            sentences.append(line)
            pending = ""
    if pending:
        sentences.append(pending)
    return sentences, stats


def write_corpus(name: str, items: list[str]) -> int:
    """Write ``items`` to ``<name>.txt`` (one per line, trailing newline); return the count."""
    for item in items:
        if not item or item != clean(item):
            raise ValueError(f"{name}: unclean item {item!r}")
    path = OUT_DIR / f"{name}.txt"
    path.write_text(
        "".join(f"{item}\n" for item in items), encoding="utf-8", newline="\n"
    )
    return len(items)


def build(sources: Path) -> tuple[list[dict[str, object]], list[str]]:
    """Build every corpus file; return the manifest entries and a summary of what was dropped."""
    tech, tech_stats = build_tech(sources)
    sonnets, sonnet_stats = build_sonnets(sources)
    notes, note_stats = build_notes(sources)
    ipsum, ipsum_stats = build_ipsum(sources)
    corpora = {
        "pokemon": unique(read_lines(sources / "pokemon.txt")),
        "ikea": unique(read_lines(sources / "ikea.txt")),
        "tech": tech,
        "rhcp": unique(read_lines(sources / "rhcp_titles.txt")),
        "sonnets": sonnets,
        "notes": notes,
        "ipsum": ipsum,
    }
    counts = {name: write_corpus(name, items) for name, items in corpora.items()}
    mix = (
        f"{tech_stats['pypi']:,} PyPI, {tech_stats['npm']:,} npm and "
        f"{tech_stats['cran']:,} CRAN names"
    )
    perseus = "Perseus Digital Library"
    entries = [
        {
            "name": "pokemon",
            "title": "Pokémon names",
            "tokens": "characters",
            "default_state_size": 3,
            "description": (
                "The names of all Pokémon species in English, in National Pokédex order, "
                "with their original spelling (Mr. Mime, Ho-Oh, Nidoran♀, Type: Null)."
            ),
            "source": (
                "npm package `pokemon` 3.3.1, file `data/en.json` "
                "(shared/corpora-sources/pokemon.txt)."
            ),
            "licence": "Package MIT; names are trademarks of Nintendo / Game Freak (facts).",
            "credit": "Name list from the npm package `pokemon` 3.3.1 (MIT licence).",
        },
        {
            "name": "ikea",
            "title": "IKEA product names",
            "tokens": "characters",
            "default_state_size": 3,
            "description": (
                "IKEA product names, one word each, in upper case as printed on the "
                "products (with Swedish Å, Ä, Ö)."
            ),
            "source": (
                "Union of three public scrapes: TidyTuesday 2020-11-03 `ikea.csv` "
                "(rfordatascience/tidytuesday, MIT), rambleraptor/ikea-translate `ikea.json` "
                "(2013 US catalogue) and akx/new-noises `ikea.txt` (2018 list); Latin plant "
                "names and words like IKEA/PS/FAMILY dropped (shared/corpora-sources/ikea.txt, "
                "per-name provenance in ikea_sources.tsv)."
            ),
            "licence": "Product names are facts / IKEA trademarks.",
            "credit": "",
        },
        {
            "name": "tech",
            "title": "Software package names",
            "tokens": "characters",
            "default_state_size": 3,
            "description": (
                "Names of popular software packages from three ecosystems, so generated "
                f"names feel like numpy, pandas, flask, lodash or dplyr: {mix}."
            ),
            "source": (
                f"The top {PYPI_TOP:,} PyPI names by download rank "
                "(tech_pypi_top_ranked.tsv, a PyPI package index listing, late 2026), the top "
                f"{NPM_TOP:,} unscoped npm names by monthly downloads "
                "(tech_npm_top_simple_ranked.tsv, an npm registry listing, late 2026) and all "
                f"{tech_stats['cran_taken']:,} CRAN names shipped by Debian as r-cran-NAME "
                "(tech_cran_debian.txt). Lower-cased; names not matching ^[a-z][a-z0-9._-]*$ "
                f"or not 2-30 characters long dropped ({tech_stats['pypi_implausible']:,} "
                f"PyPI, {tech_stats['npm_implausible']:,} npm, "
                f"{tech_stats['cran_implausible']:,} CRAN); de-duplicated across ecosystems "
                f"keeping the first occurrence in the order PyPI, npm, CRAN, leaving {mix}, "
                "written in that order."
            ),
            "licence": "Package names are facts.",
            "credit": "",
        },
        {
            "name": "rhcp",
            "title": "Red Hot Chili Peppers song titles",
            "tokens": "words",
            "default_state_size": 1,
            "description": (
                "Song titles by the Red Hot Chili Peppers (titles only, no lyrics), "
                "for generating plausible new song titles word by word."
            ),
            "source": (
                "Public discography notes in several GitHub repositories "
                "(shared/corpora-sources/rhcp_titles.txt, per-title provenance in "
                "rhcp_titles_sources.tsv)."
            ),
            "licence": "Song titles are facts; no lyrics included.",
            "credit": "",
        },
        {
            "name": "sonnets",
            "title": "Shakespeare's sonnets",
            "tokens": "words",
            "default_state_size": 2,
            "description": (
                "The verse lines of Shakespeare's 154 sonnets, one line per item: "
                "a public-domain stand-in for song lyrics."
            ),
            "source": (
                "Project Gutenberg text (shared/corpora-sources/sonnets_lines.txt); a "
                "typographic all-caps first word is title-cased (FROM -> From) and an empty "
                "editorial lacuna bracket in Sonnet 146 is removed."
            ),
            "licence": "Public domain.",
            "credit": "",
        },
        {
            "name": "notes",
            "title": "Irish folk tunes (notes)",
            "tokens": "notes",
            "default_state_size": 3,
            "description": (
                "Irish and American folk tunes as sequences of note names with octave "
                "(G4 Bb4 C5 ...), one tune per line; generated tunes can be played back."
            ),
            "source": (
                "ABC transcriptions in the music21 corpus of O'Neill's Music of Ireland "
                "(melodies_oneills1850.tsv) and Ryan's Mammoth Collection, 1883 "
                "(melodies_ryansMammoth.tsv), converted to note names: rests dropped, ties "
                "merged, grace notes skipped, chords reduced to the top note, repeats not "
                f"expanded, flats written b. Tunes with fewer than {MIN_TUNE_NOTES} notes, "
                "with tokens outside ^[A-G](#|b)?-?[0-9]$ (double sharps) or duplicating "
                "another transcription of the same collection are dropped."
            ),
            "licence": (
                "Tunes public domain; the ABC encodings' licence may restrict commercial use."
            ),
            "credit": (
                "Tunes from the ABC transcriptions of O'Neill's Music of Ireland and Ryan's "
                "Mammoth Collection in the music21 corpus; the licence of these encodings may "
                "restrict commercial use."
            ),
        },
        {
            "name": "ipsum",
            "title": "Cicero, De finibus (Lorem ipsum)",
            "tokens": "words",
            "default_state_size": 2,
            "description": (
                "Cicero's De finibus bonorum et malorum in Latin, one sentence per line: "
                "the text that Lorem ipsum filler comes from (Book 1, §32-33)."
            ),
            "source": (
                f"{perseus} Latin text of De finibus bonorum et malorum I-V (Teubner 1915), "
                "editorial notes removed, sentences with Greek dropped "
                "(shared/corpora-sources/ipsum_definibus.txt); sentences split after Roman "
                "first-name abbreviations (P., Cn., M'.) are rejoined and crux marks removed."
            ),
            "licence": "Latin text public domain; Perseus encoding CC BY-SA 4.0.",
            "credit": (
                f"Latin text from the {perseus} (Cicero, De finibus bonorum et malorum, "
                "Teubner 1915), encoding licensed CC BY-SA 4.0."
            ),
        },
    ]
    manifest = []
    for entry in entries:
        name = str(entry["name"])
        manifest.append(
            {
                "name": name,
                "title": entry["title"],
                "file": f"{name}.txt",
                "tokens": entry["tokens"],
                "default_state_size": entry["default_state_size"],
                "items": counts[name],
                "description": entry["description"],
                "source": entry["source"],
                "licence": entry["licence"],
                "credit": entry["credit"],
            }
        )
    summary = [f"{name}: {count:,}" for name, count in counts.items()]
    tech_dropped = ", ".join(
        f"{label} {tech_stats[f'{key}_implausible']}"
        for key, label in (("pypi", "PyPI"), ("npm", "npm"), ("cran", "CRAN"))
    )
    summary += [
        f"tech mix: {mix}; implausible names dropped: {tech_dropped}",
        (
            f"sonnets: {sonnet_stats['caps_fixed']} leading caps fixed, "
            f"{sonnet_stats['lacunae_removed']} lacuna brackets removed"
        ),
        (
            f"notes dropped: {note_stats['short']} short, {note_stats['bad_tokens']} "
            f"with bad tokens, {note_stats['duplicate_files']} duplicate transcriptions"
        ),
        (
            f"ipsum: {ipsum_stats['joined']} fragments joined, "
            f"{ipsum_stats['no_letters']} letterless lines dropped"
        ),
    ]
    return manifest, summary


def main() -> None:
    """Parse the command line, build the corpora and the manifest, print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sources",
        nargs="?",
        type=Path,
        default=DEFAULT_SOURCES,
        help=f"directory with the raw corpus material (default: {DEFAULT_SOURCES})",
    )
    args = parser.parse_args()
    try:
        manifest, summary = build(args.sources)
    except FileNotFoundError as error:  # one line naming the missing source, not a traceback
        raise SystemExit(f"build_corpora: missing source {error.filename} (see SOURCES.md of {args.sources})") from None
    text = json.dumps({"corpora": manifest}, indent=2, ensure_ascii=False) + "\n"
    (OUT_DIR / "manifest.json").write_text(text, encoding="utf-8", newline="\n")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
