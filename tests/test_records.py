"""Every number quoted with a record id matches that record.

Where numbers are cited
-----------------------
* ``benchmarks/notes/*.md`` and ``README.md``: a citation is ``NUMBER [record-id]``: a number,
  then at most a unit and a few words without digits (``dB``, ``s/image``, ``CPU-s per image``;
  no sentence end, parenthesis or table-cell border; a line break within a paragraph counts as a
  space), then the record id in square brackets. Several numbers may share one bracket when
  they are chained by ``/``, ``,``, ``and`` or ``in``, with at most a unit before the separator
  and a few label words after it (``38.74 / 42.14 dB [zssr-v4_sr-x2_set5]``, ``vase 25.48 dB,
  kate 32.28 dB [dip_runs]``); each of them is checked, and one without a unit takes the next
  one's. A record id is a file stem of ``benchmarks/results/`` (``.json`` or ``.jsonl``):
  lower-case letters, digits, ``.``, ``+``, ``-`` and ``_``, with at least one letter and one
  ``-`` or ``_`` (so ``[1]`` footnotes and ``[x]`` check boxes are not citations; a Markdown
  link ``[text](url)`` is not either).
* ``pnp_internal/recipes.py``: each recipe's ``why`` line against its own ``record``. Only the
  numbers followed by ``dB`` are checked (the why lines quote times and settings too, which are
  often from other runs); a recipe whose why quotes a dB number must name a record.

What "matches" means
--------------------
The record file is loaded and every numeric value in it is collected recursively, with its key
path (booleans excepted; in ``.jsonl`` files, every line). A quoted number with ``d`` decimals
matches a value ``v`` when ``|v - q| <= 0.5 * 10**-d`` (``v`` rounded to the quoted precision,
ties either way). Which values are candidates depends on the unit written after the number:

* ``dB``: the PSNR values (key path containing ``psnr``), or every value when the record has
  no such key (``custom-operator-start-*`` stores PSNRs under the method names);
* ``%``: every value, and every value times 100 (a ratio stored as a fraction);
* anything else: every value, and the noise levels (key path containing ``noise`` or
  ``sigma``) times 255 and divided by 255 (stored on the [0, 1] scale, quoted on 0-255, or the
  reverse).

The conversions are tied to a unit or a key so that they cannot match by chance (a PSNR of
40.8 divided by 255 is 0.16, which would "confirm" any gain of 0.16 dB). A leading ``+`` is
dropped; a ``-`` is kept. Differences of two recorded values (a "gain") are not values of a
record: quote both values instead, each with its bracket.

Lists named ``curve`` or ``*_curve`` (PSNR traces, thousands of values per record in
``dip_runs.jsonl``, one per check in ``adaptation-paths_*``) are
left out, since almost any number in the range of a trace would match one of its points: a
quote must match a summary value (the early-stop pick, the oracle, the seconds).

Known mismatches in the recipe book are listed in :data:`RECIPE_ALLOWED`, each with where the
number does come from; those numbers are checked against that record instead (or skipped,
when no record holds them), so the allow-list cannot hide a new error, and an entry that is no
longer needed fails the test, so the list only shrinks.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NOTES = ROOT / "benchmarks" / "notes"

_NUM = r"[+-]?\d+(?:\.\d+)?"
# A number not glued to a word, a decimal point, a slash or a hyphenated name (Set5, x2, sr-x2,
# kodim03, 1/255).
_ALONE_BEFORE = r"(?<![\w./])(?<![A-Za-z]-)"
_ALONE_AFTER = r"(?!\w)(?!\.\d)(?!/)"
NUMBER = re.compile(_ALONE_BEFORE + _NUM + _ALONE_AFTER)
_ID = r"(?=[a-z0-9._+-]*[a-z])(?=[a-z0-9._+-]*[-_])[a-z0-9][a-z0-9._+-]*"
# Between a number and its bracket, or between chained numbers: a unit and a few words, no digit
# and no sentence, parenthesis or table-cell boundary; a line break inside a paragraph is a space
# (not before a blank line, a list item, a table row or a heading).
_GAP = r"(?:[^\d\[\]\n.;:|()]|\.(?!\s)|\n(?![ \t]*(?:\n|[-*#|]\s))){0,40}?"
_SEP = r"(?:/|,|\band\b|\bin\b)"
# After a separator, up to three label words may precede the next number ("vase 25.48 dB, kate
# 32.28 dB", "`cnn-hqs` 33.77 dB"); a label may hold digits (kodim03), which are not numbers
# (see NUMBER).
_LABEL = r"(?:[A-Za-z`][\w.'`+-]*\s+){0,3}"
_CHAIN = rf"(?:{_NUM}{_GAP}{_SEP}\s*{_LABEL})*"
CITATION = re.compile(
    rf"{_ALONE_BEFORE}(?P<nums>{_CHAIN}{_NUM}){_ALONE_AFTER}"
    rf"(?P<gap>{_GAP})\[(?P<id>{_ID})\](?!\()")
DB_NUMBER = re.compile(_ALONE_BEFORE + r"[+-]?\d+\.\d+(?=\s*dB\b)")

#: Recipes whose why line quotes a dB number that their own record does not hold: recipe name
#: -> {quoted number: the record that holds it, or None when no record does}. The recipe book's
#: owner is to fix these (cite the right record, or quote the record's value).
RECIPE_ALLOWED: dict[str, dict[str, str | None]] = {
    # The RGB-vs-Y comparison (older weights) was never kept as a record; ia_sr-x2_set5 holds
    # the Y/gray cnn-idbp at 37.25, not the quoted 37.09.
    "LUMA_SR": {"36.19": None},
}


@lru_cache(maxsize=None)
def record_values(record: str) -> tuple[tuple[str, float], ...]:
    """(key path, value) of every number of ``benchmarks/results/<record>.json[l]``."""
    path = RESULTS / f"{record}.json"
    if not path.is_file():
        path = RESULTS / f"{record}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(record)
    text = path.read_text()
    docs = ([json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".jsonl" else [json.loads(text)])
    out: list[tuple[str, float]] = []

    def walk(obj, where):
        if isinstance(obj, bool):
            return
        if isinstance(obj, (int, float)):
            if math.isfinite(obj):
                out.append((where.lower(), float(obj)))
        elif isinstance(obj, dict):
            for k, v in obj.items():
                if not k.endswith("curve"):
                    walk(v, f"{where}/{k}")
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v, where)

    for d in docs:
        walk(d, "")
    return tuple(out)


def candidates(record: str, unit: str):
    """The values a number quoted with ``unit`` may be, per the rules of the docstring."""
    values = record_values(record)
    unit = unit.strip()
    if re.match(r"dB\b", unit):
        psnr = [v for k, v in values if "psnr" in k]
        return psnr or [v for _, v in values]
    out = [v for _, v in values]
    out += [c for k, v in values if "noise" in k or "sigma" in k for c in (v * 255, v / 255)]
    if unit.startswith("%"):
        out += [v * 100 for _, v in values]
    return out


def matches(quoted: str, record: str, unit: str = "") -> bool:
    """Whether the number quoted with ``unit`` is a value of the record at its precision."""
    q = float(quoted.lstrip("+"))
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    tol = 0.5 * 10 ** -decimals + 1e-9
    return any(abs(c - q) <= tol for c in candidates(record, unit))


def citations(text: str):
    """(number, unit, record id) for every ``NUMBER [record-id]`` citation of a Markdown text.

    A chained number without its own unit takes the unit of the next one
    (``38.74 / 42.20 dB``)."""
    for m in CITATION.finditer(text):
        span = m.group("nums") + m.group("gap")
        found = list(NUMBER.finditer(span))
        units = []
        for i, n in enumerate(found):
            stop = found[i + 1].start() if i + 1 < len(found) else len(span)
            rest = span[n.end():stop]
            units.append(rest.strip() if i + 1 == len(found)
                         else re.split(_SEP, rest, maxsplit=1)[0].strip())
        for i in range(len(units) - 2, -1, -1):
            if not units[i]:
                units[i] = units[i + 1]
        for n, unit in zip(found, units):
            yield n.group(), unit, m.group("id")


def markdown_files():
    files = sorted(NOTES.glob("*.md"))
    readme = ROOT / "README.md"
    if readme.is_file():
        files.append(readme)
    return files


def recipes():
    """(name, why, record) of every recipe of the recipe book, dict entries included."""
    from pnp_internal import recipes as book

    out = []
    for name in book.__all__:
        obj = getattr(book, name)
        if isinstance(obj, dict):
            for key, val in obj.items():
                if hasattr(val, "why") and hasattr(val, "record"):
                    out.append((f"{name}[{key!r}]", val.why, val.record))
        elif hasattr(obj, "why") and hasattr(obj, "record") and not isinstance(obj, type):
            out.append((name, obj.why, obj.record))
    return out


def _check(quoted, record, unit=""):
    try:
        return None if matches(quoted, record, unit) else "no such value in the record"
    except FileNotFoundError:
        return "no such record"


def test_the_grammar_finds_citations():
    text = ("Set5 x2 37.44 dB [ia-v2_sr-x2_set5], 38.74 / 42.20 dB [ia-v2_sr-x2_set5]; "
            "22.6 s/image [gaintuning-fast_denoise-s25_cbsd68]. See [this](http://x) and [1]. "
            "kodim03 [dip_runs] has no number.")
    assert list(citations(text)) == [
        ("37.44", "dB", "ia-v2_sr-x2_set5"), ("38.74", "dB", "ia-v2_sr-x2_set5"),
        ("42.20", "dB", "ia-v2_sr-x2_set5"),
        ("22.6", "s/image", "gaintuning-fast_denoise-s25_cbsd68")]
    assert matches("37.44", "ia-v2_sr-x2_set5", "dB")
    assert not matches("37.45", "ia-v2_sr-x2_set5", "dB")
    # dB numbers are matched against PSNR values only; noise levels on either scale.
    assert not matches("47.40", "ia-v2_sr-x2_set5", "dB")
    assert matches("47.40", "ia-v2_sr-x2_set5", "s")
    assert matches("25", "gaintuning_denoise-s25_set12") and matches("0.098", "denoise-s25_set12")


def test_notes_exist_and_cite_records():
    files = sorted(NOTES.glob("*.md"))
    assert files, "benchmarks/notes/ is empty"
    n = sum(len(list(citations(f.read_text()))) for f in files)
    assert n > 50, f"only {n} citations in the notes"


def test_numbers_cited_in_markdown_match_their_records():
    bad = []
    for f in markdown_files():
        for num, unit, rec in citations(f.read_text()):
            err = _check(num, rec, unit)
            if err:
                bad.append(f"{f.relative_to(ROOT)}: {num} {unit} [{rec}]: {err}")
    assert not bad, "unmatched citations:\n" + "\n".join(bad)


def test_no_citation_names_a_missing_record():
    ids = re.compile(rf"\[({_ID})\](?!\()")
    bad = []
    for f in sorted(NOTES.glob("*.md")):
        for rec in ids.findall(f.read_text()):
            if not ((RESULTS / f"{rec}.json").is_file() or (RESULTS / f"{rec}.jsonl").is_file()):
                bad.append(f"{f.relative_to(ROOT)}: [{rec}]")
    assert not bad, "records that do not exist:\n" + "\n".join(bad)


def test_recipe_why_lines_match_their_records():
    bad = []
    seen_allowed = set()
    for name, why, record in recipes():
        allowed = RECIPE_ALLOWED.get(name, {})
        for num in DB_NUMBER.findall(why):
            if num.lstrip("+") in allowed or num in allowed:
                seen_allowed.add(name)
                other = allowed.get(num, allowed.get(num.lstrip("+")))
                if other is not None and _check(num, other, "dB"):
                    bad.append(f"{name}: {num} dB not in {other} either (allow-list)")
                continue
            if not record:
                bad.append(f"{name}: {num} dB quoted without a record")
                continue
            err = _check(num, record, "dB")
            if err:
                bad.append(f"{name}: {num} dB [{record}]: {err}")
    stale = set(RECIPE_ALLOWED) - seen_allowed
    assert not bad, "recipe why lines that do not match their record:\n" + "\n".join(bad)
    assert not stale, (f"allow-list entries no longer needed (delete them from RECIPE_ALLOWED in "
                       f"tests/test_records.py): {sorted(stale)}")
