"""The Dockerfile parser: directives, continuations, comments, flags, exec/shell form, heredocs, stages."""

from __future__ import annotations

from slm_deploy.policies.dockerfile import parse_dockerfile


def test_continuations_and_interleaved_comments_join_into_one_instruction() -> None:
    parsed = parse_dockerfile("FROM a:1\nRUN apt-get update \\\n  # note\n\n  && apt-get install -y x\nUSER 1\n")
    run = parsed["instructions"][1]
    assert run["instruction"] == "RUN" and run["value"] == "apt-get update && apt-get install -y x"
    assert (run["line"], run["endLine"]) == (2, 5)
    assert parsed["instructions"][2]["line"] == 6


def test_escape_directive_changes_the_continuation_character() -> None:
    parsed = parse_dockerfile("# escape=`\nFROM a:1\nRUN echo one `\n  two\n")
    assert parsed["instructions"][1]["value"] == "echo one two"


def test_flags_repeated_flags_and_exec_form() -> None:
    parsed = parse_dockerfile('FROM a:1\nRUN --mount=type=secret,id=t --mount=type=cache,target=/c ["sh", "-c", "x"]\n'
                              'COPY --from=build --chown=1:1 /a /b\nCMD python app.py\n')
    run, copy, cmd = parsed["instructions"][1:]
    assert run["flags"]["mount"] == ["type=secret,id=t", "type=cache,target=/c"]
    assert run["json"] == ["sh", "-c", "x"]
    assert copy["flags"] == {"from": ["build"], "chown": ["1:1"]} and copy["value"] == "/a /b"
    assert cmd["json"] is None and cmd["value"] == "python app.py"


def test_invalid_json_is_shell_form() -> None:
    parsed = parse_dockerfile("FROM a\nCMD [not json]\n")
    assert parsed["instructions"][1]["json"] is None


def test_stages_aliases_platform_and_global_args() -> None:
    parsed = parse_dockerfile("ARG V=1\nFROM --platform=linux/amd64 a:1 AS build\nRUN x\nFROM b:2\nCOPY --from=build /x /y\n")
    assert [s["alias"] for s in parsed["stages"]] == ["build", None]
    assert parsed["stages"][0]["platform"] == "linux/amd64" and parsed["stages"][0]["image"] == "a:1"
    assert parsed["instructions"][0]["stage"] == -1
    assert [i["instruction"] for i in parsed["stages"][1]["instructions"]] == ["FROM", "COPY"]


def test_heredoc_body_belongs_to_the_run() -> None:
    parsed = parse_dockerfile("FROM a\nRUN <<EOF\nset -e\necho hi\nEOF\nUSER 10001\n")
    run = parsed["instructions"][1]
    assert "echo hi" in run["value"] and run["endLine"] == 5
    assert parsed["instructions"][2]["instruction"] == "USER"


def test_healthcheck_subcommand_and_lowercase_keywords() -> None:
    parsed = parse_dockerfile('from a\nhealthcheck --interval=5s CMD ["curl", "-f", "x"]\n')
    check = parsed["instructions"][1]
    assert check["instruction"] == "HEALTHCHECK" and check["subcommand"] == "CMD"
    assert check["json"] == ["curl", "-f", "x"] and check["flags"] == {"interval": ["5s"]}
