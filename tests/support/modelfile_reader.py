"""A judge for rendered Modelfiles: Ollama's Modelfile reader, restated rune by rune from parser/parser.go.

Source: github.com/ollama/ollama, parser/parser.go (ParseFile, parseRuneForState, unquote) at v0.24.0, the tag
components/runtimes/pins.yaml pins; MIT licence. This is a restatement of that state machine, not a copy, written
independently of the renderer's quoting rules (slm_deploy.spec.modelfile_quoting) so that each checks the other.
Ollama's own parser cannot be run here: the Go toolchain Debian installs (golang-go 1.19) is older than parser.go
needs (the slices package and the max builtin arrived in Go 1.21), and no Ollama binary is published on the
registries this project installs from.
"""

from __future__ import annotations

import unicodedata2

COMMANDS = {"from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter", "message",
            "requires"}
NIL, NAME, VALUE, PARAMETER, MESSAGE, COMMENT = range(6)


class ModelfileError(ValueError):
    """What ParseFile would return as an error."""


def _is_space(ch: str) -> bool:
    return ch in " \t"


def _is_newline(ch: str) -> bool:
    return ch in "\r\n"


def _is_alpha(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def _is_print(ch: str) -> bool:
    """Go's strconv.IsPrint: categories L, M, N, P, S and the ASCII space, by the Unicode data of Go's tables
    (unicodedata2 at that version; tests/spec/test_go_printable.py ties it to the Go release Ollama builds with)."""
    return ch == " " or unicodedata2.category(ch)[0] in "LMNPS"


def _unquote(text: str) -> tuple[str, bool]:
    if text.startswith('"""'):
        return (text[3:-3], True) if len(text) >= 6 and text.endswith('"""') else ("", False)
    if text.startswith('"'):
        return (text[1:-1], True) if len(text) >= 2 and text.endswith('"') else ("", False)
    return text, True


def _trim(text: str) -> str:
    """Go's strings.TrimSpace (Unicode white space)."""
    return text.strip()


def _next_state(ch: str, state: int) -> tuple[int, str]:
    """parseRuneForState: the next state and the rune to keep ("" for none)."""
    if state == NIL:
        if ch == "#":
            return COMMENT, ""
        return (NIL, "") if _is_space(ch) or _is_newline(ch) else (NAME, ch)
    if state == NAME:
        if _is_alpha(ch):
            return NAME, ch
        if _is_space(ch):
            return VALUE, ""
        raise ModelfileError("invalid command")
    if state == VALUE:
        return (NIL, ch) if _is_newline(ch) or _is_space(ch) else (VALUE, ch)
    if state == PARAMETER:
        if _is_alpha(ch) or "0" <= ch <= "9" or ch == "_":
            return PARAMETER, ch
        if _is_space(ch):
            return VALUE, ""
        raise ModelfileError("unexpected end of parameter name")
    if state == MESSAGE:
        if _is_alpha(ch):
            return MESSAGE, ch
        if _is_space(ch):
            return VALUE, ""
        raise ModelfileError("unexpected end of message role")
    return (NIL, "") if _is_newline(ch) else (COMMENT, "")


def read_commands(text: str) -> list[tuple[str, str]]:
    """The (name, argument) commands ParseFile reads from a Modelfile, or ModelfileError where it fails."""
    commands: list[tuple[str, str]] = []
    state, buffer, name, role = NIL, "", "", ""
    for ch in text:
        following, kept = _next_state(ch, state)
        if following != state:
            if state == NAME:
                word = buffer.lower()
                if word not in COMMANDS:
                    raise ModelfileError("invalid command")
                if word == "parameter":
                    following = PARAMETER
                else:
                    name = "model" if word == "from" else word
                    following = MESSAGE if word == "message" else following
            elif state == PARAMETER:
                name = buffer
            elif state == MESSAGE:
                role = buffer
            elif state == VALUE:
                value, closed = _unquote(_trim(buffer))
                if not closed or _is_space(kept):
                    buffer += kept
                    continue
                commands.append((name, f"{role}: {value}" if role else value))
                role = ""
            buffer, state = "", following
        if kept and _is_print(kept):
            buffer += kept
    if state == VALUE:
        value, closed = _unquote(_trim(buffer))
        if not closed:
            raise ModelfileError("unexpected end of file inside a quoted value")
        commands.append((name, f"{role}: {value}" if role else value))
    elif state not in (NIL, COMMENT):
        raise ModelfileError("unexpected end of file")
    if not any(command == "model" for command, _ in commands):
        raise ModelfileError("no FROM line")
    return commands


def parameters(text: str) -> dict[str, list[str]]:
    """PARAMETER lines by name, in order: what CreateRequest gathers (a repeated list parameter appends)."""
    found: dict[str, list[str]] = {}
    for name, value in read_commands(text):
        if name not in ("model", "system", "template", "license", "adapter", "message"):
            found.setdefault(name, []).append(value)
    return found
