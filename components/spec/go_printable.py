"""Go's strconv.IsPrint at the Go release the pinned Ollama builds with: which characters the Modelfile parser keeps.

Go's table follows the Unicode version of its standard library, not Python's (3.11 ships Unicode 14), so a
character assigned later (Unicode 15 added about 4,500) is judged by a recorded range table: the code points in
the general categories L, M, N, P and S of that Unicode version, plus the ASCII space. The table is derived with
unicodedata2 at the same Unicode version (`python -m slm_deploy.spec.go_printable --write`); a test fails when the
Go release in the ollama record maps to another version or the table differs from its derivation.
"""

from __future__ import annotations

import bisect
import json
import sys
from functools import cache
from importlib import resources

GO_UNICODE = {"1.21": "15.0.0", "1.22": "15.0.0", "1.23": "15.0.0", "1.24": "15.0.0", "1.25": "15.0.0",
              "1.26": "15.0.0"}
"""Go release -> unicode.Version of its standard library (Go 1.21 moved to Unicode 15.0.0, Go 1.27 to 17.0.0)."""
PRINTABLE_CATEGORIES = ("L", "M", "N", "P", "S")
"""unicode.IsPrint: letters, marks, numbers, punctuation and symbols (and U+0020, the only space it keeps)."""
TABLE = "go_printable.json"


def go_unicode_version(go_version: str) -> str:
    """The Unicode version of Go's tables for a go.mod version such as 1.26.0."""
    return GO_UNICODE[".".join(go_version.split(".")[:2])]


@cache
def _table() -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    document = json.loads(resources.files("slm_deploy.spec").joinpath(TABLE).read_text(encoding="utf-8"))
    starts, ends = zip(*document["ranges"])
    return document["unicode"], tuple(starts), tuple(ends)


def table_unicode_version() -> str:
    """The Unicode version the shipped table was derived from."""
    return _table()[0]


def go_is_print(character: str) -> bool:
    """strconv.IsPrint for one character, by the recorded table."""
    _, starts, ends = _table()
    point = ord(character)
    index = bisect.bisect_right(starts, point) - 1
    return point == 0x20 or (index >= 0 and point <= ends[index])


def derive(unicode_version: str) -> dict:
    """The table for `unicode_version`, from unicodedata2 at exactly that version (a test dependency)."""
    import unicodedata2  # type: ignore[import-not-found]  # only the derivation and its test need it

    if unicodedata2.unidata_version != unicode_version:
        raise SystemExit(f"unicodedata2 has Unicode {unicodedata2.unidata_version}; install the {unicode_version} release")
    ranges: list[list[int]] = []
    for point in range(sys.maxunicode + 1):
        if unicodedata2.category(chr(point))[0] in PRINTABLE_CATEGORIES:
            if ranges and ranges[-1][1] == point - 1:
                ranges[-1][1] = point
            else:
                ranges.append([point, point])
    return {"unicode": unicode_version, "ranges": ranges}


def table_text(document: dict) -> str:
    """The table file: one range per line, so a new Unicode version diffs by range."""
    rows = ",\n".join(f"  [{start}, {end}]" for start, end in document["ranges"])
    return f'{{"unicode": "{document["unicode"]}", "ranges": [\n{rows}\n]}}\n'


if __name__ == "__main__":
    from pathlib import Path

    from slm_deploy.spec.runtime_records import record_of

    text = table_text(derive(go_unicode_version(record_of("ollama").go_version)))
    if sys.argv[1:] == ["--write"]:
        Path(str(resources.files("slm_deploy.spec").joinpath(TABLE))).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
