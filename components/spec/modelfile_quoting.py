"""How a text PARAMETER value is written so Ollama's Modelfile parser reads it back unchanged, or why it cannot be.

Derived from parser/parser.go (ParseFile, unquote) at the pinned Ollama tag: a value runs to the end of its line
unless it opens a quote; at each line break the text so far, trimmed of white space, is tried as a whole value
(plain, "..." or \"\"\"...\"\"\", with no escapes), and the first line break at which it is one ends the value.
Spaces and tabs inside a value are kept; every other character that Go's strconv.IsPrint rejects (control, format,
private-use, unassigned and separator characters other than the ASCII space) is silently dropped, judged by Go's
own Unicode tables at the Go release Ollama builds with (slm_deploy.spec.go_printable).
"""

from __future__ import annotations

import unicodedata

from slm_deploy.spec.go_printable import go_is_print, table_unicode_version

LINE_BREAKS = "\n\r"
KEPT_BLANKS = " \t"
UNREPRESENTABLE = ("characters Ollama's Modelfile parser drops: control, format and separator characters other than "
                   "space, tab and line breaks (for example NUL, escape, zero-width spaces and joiners, bidirectional "
                   "overrides, "
                   "U+00A0, U+2028)")
UNQUOTABLE = ("three double quotes at the end of a line followed by another line: Ollama's Modelfile parser would "
              "end the value there, in any quoting")


def _unknown_to_go() -> str:
    """Why a character unassigned in Go's Unicode (Python's is older, so unassigned there too) is refused."""
    version = ".".join(table_unicode_version().split(".")[:2])
    return (f"characters Ollama's Go (Unicode {version}) does not know, such as ones added in a later Unicode "
            "version: its Modelfile parser drops them")


def _kept(character: str) -> bool:
    return character in LINE_BREAKS or character in KEPT_BLANKS or go_is_print(character)


def _line_ends_before(text: str) -> list[str]:
    """The text before each line break, trimmed as the parser trims it when it tries to end the value there."""
    return [text[:index].rstrip(KEPT_BLANKS + LINE_BREAKS) for index, ch in enumerate(text) if ch in LINE_BREAKS]


def _plain(text: str) -> bool:
    return not any(ch in LINE_BREAKS for ch in text) and text == text.strip(KEPT_BLANKS) and not text.startswith('"')


def _single_quoted(text: str) -> bool:
    """'"' + text + '"': not read as a triple quote, and no line ends the value early by ending in a quote."""
    return not f'"{text}"'.startswith('"""') and not any(before.endswith('"') for before in _line_ends_before(text))


def _triple_quoted(text: str) -> bool:
    return not any(before.endswith('"""') for before in _line_ends_before(text))


def quoted_value(text: str) -> str | None:
    """The value as written after `PARAMETER name `, or None when the parser cannot read it back unchanged."""
    if not text or not all(_kept(ch) for ch in text):
        return None
    if _plain(text):
        return text
    if _single_quoted(text):
        return f'"{text}"'
    if _triple_quoted(text):
        return f'"""{text}"""'
    return None


def unrepresentable(text: str) -> str | None:
    """What keeps a non-empty text from being written as a Modelfile value, or None when it can be."""
    dropped = [ch for ch in text if not _kept(ch)]
    if any(unicodedata.category(ch) == "Cn" for ch in dropped):
        return _unknown_to_go()
    if dropped:
        return UNREPRESENTABLE
    return None if quoted_value(text) is not None else UNQUOTABLE
