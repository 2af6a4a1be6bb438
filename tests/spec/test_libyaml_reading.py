"""libyaml reads specs for speed; what it returns must be what PyYAML's pure-Python pipeline returns (values and
the line of every key), and whatever it refuses is read again by that pipeline, so no spec reads differently."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slm_deploy.spec.yaml_source import _UNREAD, _read_with_libyaml, _StrictLoader, parse_yaml, plain

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(path for folder in ("stacks", "tests") for path in (ROOT / folder).rglob("*.yaml")
               if "golden" not in path.parts)
SNIPPETS = [
    "name: demo\r\nmodel: {id: qwen3-1.7b}\r\nruntime:\r\n  kind: llamacpp\r\n",
    "base: &base {kind: llamacpp, env: {A: '1'}}\nruntime:\n  <<: *base\n  kind: ollama\nlist: [*base, *base]\n",
    "a: |\n  line one\n    indented\n  line three\nb: >-\n  folded\n  text\n\n  para\nc: \"esc\\t\\u00e9\\x41\\\n  joined\"\n",
    "? complex\n: value\n'quoted key': \"x\"\nempty:\nnulls: [~, null, Null]\nbools: [true, True, FALSE]\n",
    "n: [0, -12, +3, 010, 1.5, -.inf, .NaN, 1e3, 0x1F, 0o17, 1_000]\n",
    "# comment\n---\nkey: value # trailing\nseq:\n- a\n-   - b\n    - c\n- {x: [1, {y: z}]}\n...\n",
    "unicode: \"caf\u00e9 \U0001F600\"\nnel: \"a\u0085b\"\nmulti: first\n  second\n\n  third\n",
    "%YAML 1.1\n---\nname: demo\n",
]


def _pure(text: str):
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@pytest.mark.parametrize("text", [path.read_text(encoding="utf-8") for path in FILES] + SNIPPETS,
                         ids=[path.relative_to(ROOT).as_posix() for path in FILES] + [f"snippet-{i}" for i in range(len(SNIPPETS))])
def test_libyaml_reads_every_document_as_the_pure_pipeline_does(text: str) -> None:
    libyaml = _read_with_libyaml(text)
    try:
        pure = _pure(text)
    except yaml.YAMLError:  # beyond what a spec may hold (a CRD's size): refused either way
        assert libyaml is _UNREAD
        return
    assert libyaml is not _UNREAD
    assert plain(libyaml, "spec.yaml") == plain(pure, "spec.yaml")


def test_the_repository_holds_specs_and_stack_files_to_compare() -> None:
    assert any(path.parent.name == "stacks" for path in FILES) and len(FILES) > 50


@pytest.mark.parametrize("text", [
    "%YAML 1.3\n---\nname: demo\n",  # a YAML version libyaml does not know; PyYAML reads any 1.x
    'name: "\\ud800"\n',  # an escape PyYAML turns into a lone surrogate, which the loader then names
])
def test_a_document_libyaml_refuses_is_read_as_the_pure_pipeline_reads_it(text: str) -> None:
    assert _read_with_libyaml(text) is _UNREAD
    assert parse_yaml(text, "spec.yaml") == _pure(text)
