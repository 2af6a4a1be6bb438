"""The loader reads YAML strictly and never echoes a value: duplicate keys, hostile sizes and depths,
YAML 1.1 look-alikes, and values pasted where names belong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from slm_deploy.errors import MAX_SHOWN, SpecError
from slm_deploy.spec.yaml_source import MAX_BYTES, MAX_COMPOSED, MAX_DEPTH, MAX_INTEGER_DIGITS, MAX_NODES, parse_yaml
from tests.support.cli import run_in_process

CANARY = "zqxcanary7"
MINIMAL = "name: demo\nmodel: {id: qwen3-1.7b}\nruntime: {kind: llamacpp}\n"


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path: Path) -> str:
    result = run_in_process("validate", str(path))
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_a_second_block_under_the_same_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = MINIMAL + "exposure:\n  mode: none\nserving:\n  replicas: 1\nexposure:\n  mode: ingress\n  host: llm.example.com\n"
    stderr = _refused(_spec(tmp_path, text))
    assert f"{tmp_path / 'spec.yaml'}:8: exposure: duplicate key (first on line 4)" in stderr


def test_duplicate_nested_keys_name_their_path(tmp_path: Path) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + "serving:\n  auth:\n    enabled: true\n    enabled: false\n"))
    assert "spec.yaml:7: serving.auth.enabled: duplicate key (first on line 6)" in stderr


def test_duplicate_keys_in_a_stack_file_are_refused_too(tmp_path: Path) -> None:
    text = "config:\n  slm-deploy:deployment:\n    name: demo\n  slm-deploy:deployment:\n    name: other\n"
    assert "duplicate key (first on line 2)" in _refused(_spec(tmp_path, text))


@pytest.mark.parametrize("merge", ["{auth: {enabled: false}, auth: {enabled: true}}",
                                   "[{concurrency: 2}, {concurrency: 1, concurrency: 3}]",
                                   "{<<: {concurrency: 1, concurrency: 3}}"],
                         ids=["inline", "in a list", "nested merge"])
def test_a_duplicate_key_inside_a_merged_mapping_is_refused(tmp_path: Path, merge: str) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + f"serving:\n  <<: {merge}\n"))
    assert "spec.yaml:5:" in stderr and "duplicate key in a mapping merged with `<<`" in stderr


def test_merge_keys_override_without_counting_as_duplicates(tmp_path: Path) -> None:
    text = ("base: &base {concurrency: 2, startup_budget_seconds: 1800}\n"
            "config:\n  slm-deploy:deployment:\n    name: demo\n    model: {id: qwen3-1.7b}\n"
            "    runtime: {kind: llamacpp}\n    serving:\n      <<: *base\n      concurrency: 3\n")
    result = run_in_process("validate", str(_spec(tmp_path, text)), "--json")
    assert result.code == 0, result.stderr


@pytest.mark.parametrize(("value", "kind"), [("yes", "a string"), ("on", "a string"), ("'true'", "a string"),
                                             ("1", "an integer")])
def test_only_true_and_false_are_booleans(tmp_path: Path, value: str, kind: str) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + f"serving: {{auth: {{enabled: {value}}}}}\n"))
    assert f"serving.auth.enabled: must be true or false (got {kind})" in stderr


def test_the_core_schema_spellings_of_true_and_false_render_as_those_booleans(tmp_path: Path) -> None:
    """README: `true`/`True`/`TRUE` and `false`/`False`/`FALSE` are the booleans, as YAML 1.2's core schema has them."""
    bundles = {}
    for word in ("true", "True", "TRUE", "false", "False", "FALSE"):
        out = tmp_path / word
        spec = _spec(tmp_path, MINIMAL + f"targets: {{compose: {{}}}}\nmonitoring: {{enabled: {word}}}\n")
        assert run_in_process("render", str(spec), "--out", str(out)).code == 0
        bundles[word] = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert bundles["true"] == bundles["True"] == bundles["TRUE"]
    assert bundles["false"] == bundles["False"] == bundles["FALSE"] != bundles["true"]


def test_a_leading_zero_is_decimal_as_in_yaml_1_2(tmp_path: Path) -> None:
    result = run_in_process("validate", str(_spec(tmp_path, MINIMAL + "serving: {concurrency: 010}\n")), "--json")
    assert result.code == 0, result.stderr


def test_a_key_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + "secrets:\n  123: {backend: file}\n"))
    assert "spec.yaml:5: secrets: has a key that is not a string (an integer)" in stderr


def test_yaml_nested_thousands_of_levels_deep_is_refused_quickly(tmp_path: Path) -> None:
    depth = 5000
    stderr = _refused(_spec(tmp_path, "a: " + "[" * depth + "]" * depth + "\n"))
    assert f"nested deeper than {MAX_DEPTH} levels" in stderr


def test_a_file_larger_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = _spec(tmp_path, MINIMAL + "# " + "x" * (20 * 1024 * 1024) + "\n")
    stderr = _refused(path)
    assert f"larger than {MAX_BYTES // 1024} KiB" in stderr


def test_alias_expansion_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
              for i in range(1, 9)]
    stderr = _refused(_spec(tmp_path, "\n".join(lines) + "\n"))
    assert f"more than {MAX_NODES} values" in stderr


@pytest.mark.parametrize("text", ["name: [unclosed\n", "\tname: demo\n", "name: demo\n  bad: indent\n",
                                  "!!python/object:os.system {}\n"])
def test_malformed_yaml_names_the_line_and_not_the_text(tmp_path: Path, text: str) -> None:
    stderr = _refused(_spec(tmp_path, text))
    assert re.search(r"spec\.yaml:\d+(:\d+)?: ", stderr)


def test_not_utf8_and_a_directory_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "spec.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    assert "is not UTF-8 text" in _refused(binary)
    result = run_in_process("validate", str(tmp_path))
    assert result.code == 2 and "Traceback" not in result.stderr


# --- no value is ever echoed -------------------------------------------------------------------------------


ECHO_CASES = {
    "token as the api-keys secret": "serving: {{auth: {{api_keys_secret: {v}}}}}\nsecrets: {{keys: {{}}}}\n",
    "token as the hub token secret": "model: {{id: qwen3-1.7b, hub_token_secret: {v}}}\n",
    "unknown model id": "model: {{id: {v}}}\n",
    "unknown runtime kind": "runtime: {{kind: {v}}}\n",
    "namespace": "targets: {{kubernetes: {{namespace: {v}}}}}\n",
    "memory below the need": "resources: {{memory: 1{v}}}\n",
    "extra arg": "runtime: {{kind: llamacpp, extra_args: [--{v}]}}\n",
    "env value": "runtime: {{kind: llamacpp, env: {{LOG_COLORS: '{v}\"'}}}}\n",
    "bind address": "exposure: {{bind_address: {v}}}\n",
    "waiver rule": "waivers: [{{rule: {v}, resource: x, reason: reviewed and accepted}}]\n",
    "image": "runtime: {{kind: llamacpp, image: '{v}:1@sha256:abc'}}\n",
}


@pytest.mark.parametrize("case", sorted(ECHO_CASES))
def test_a_value_pasted_where_a_name_belongs_is_never_printed(tmp_path: Path, case: str) -> None:
    base = yaml.safe_load(MINIMAL)
    override = yaml.safe_load(ECHO_CASES[case].format(v=CANARY))
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**base, **override}), encoding="utf-8")
    for command in (["validate", str(path)], ["render", str(path), "--out", str(tmp_path / "out")]):
        result = run_in_process(*command)
        assert result.code == 2, result.stdout + result.stderr
        assert CANARY not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr and "spec.yaml:" in result.stderr


def test_messages_keep_square_brackets(tmp_path: Path) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + "targets: {aks: {location: West Europe}}\n"))
    assert "^[a-z0-9]+$" in stderr, "Rich must not read [a-z0-9] as markup"


@pytest.mark.parametrize("value", [f'!!int "{CANARY}"', "!!bool no", '!!bool "false"', '!!int "1_000"',
                                   "!!float 1", '!!timestamp "x"', '!!null "x"', '!!map "x"', "!!map [1]",
                                   "!custom {}", "! 3"])
def test_explicit_tags_are_refused_as_plain_yaml_only(tmp_path: Path, value: str) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + f"serving: {{concurrency: {value}}}\n"))
    assert "spec.yaml:4:" in stderr and "has an explicit YAML tag" in stderr and "allowed: plain YAML: no tags" in stderr
    assert CANARY not in stderr


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x9b", "\ufffe"])
def test_a_non_printable_character_anywhere_names_its_line(tmp_path: Path, char: str) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + f"# a comment with {char} in it\n"))
    assert f"spec.yaml:4: holds the non-printable character U+{ord(char):04X}" in stderr


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + "serving: &x {concurrency: 2, auth: *x}\n"))
    assert "spec.yaml:4:" in stderr and "an alias refers to the mapping or list that contains it" in stderr


def test_an_alias_chain_nested_deeper_than_the_limit_is_refused(tmp_path: Path) -> None:
    lines = ["serving: &a0 {concurrency: 2}"]
    lines += [f"x{i}: &a{i} " + "{k: " * 26 + f"*a{i - 1}" + "}" * 26 for i in range(1, 61)]
    stderr = _refused(_spec(tmp_path, MINIMAL + "\n".join(lines) + "\n"))
    assert "spec.yaml:6:" in stderr and f"nested deeper than {MAX_DEPTH} levels once aliases are expanded" in stderr


def _aliased_nest(levels: int) -> str:
    """An anchor nested `levels` mappings deep, aliased one level below where it is defined."""
    return "a: &a " + "{k: " * levels + "1" + "}" * levels + "\nb: {k: *a}\n"


def test_an_alias_that_expands_to_the_depth_limit_is_read() -> None:
    data = parse_yaml(_aliased_nest(MAX_DEPTH - 3), "spec.yaml")
    assert data["b"]["k"] == data["a"]


def test_an_alias_that_expands_past_the_depth_limit_is_refused() -> None:
    with pytest.raises(SpecError, match="once aliases are expanded"):
        parse_yaml(_aliased_nest(MAX_DEPTH - 2), "spec.yaml")


def test_an_integer_too_long_to_read_is_refused_naming_its_field(tmp_path: Path) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + "serving: {concurrency: " + "7" * 5000 + "}\n"))
    assert f"spec.yaml:4: serving.concurrency: is an integer longer than {MAX_INTEGER_DIGITS} digits" in stderr
    assert "7777" not in stderr


def test_an_integer_of_the_longest_length_is_read() -> None:
    assert parse_yaml("n: -" + "1" * MAX_INTEGER_DIGITS + "\n", "spec.yaml")["n"] == -int("1" * MAX_INTEGER_DIGITS)


@pytest.mark.parametrize("text", [f"name: *{CANARY}\n", f"name: \"a\\q{CANARY}\"\n", f"name: @{CANARY}\n"],
                         ids=["undefined alias", "unknown escape", "reserved indicator"])
def test_malformed_yaml_is_named_by_position_without_the_text_found(tmp_path: Path, text: str) -> None:
    stderr = _refused(_spec(tmp_path, text))
    assert "spec.yaml:1:" in stderr and "malformed YAML" in stderr and CANARY not in stderr, stderr


def test_two_merge_keys_in_one_mapping_are_refused(tmp_path: Path) -> None:
    text = MINIMAL + "serving:\n  <<: {auth: {enabled: true}}\n  <<: {auth: {enabled: false}}\n"
    assert "spec.yaml:6:3: a mapping holds more than one merge key `<<`" in _refused(_spec(tmp_path, text))


@pytest.mark.parametrize(("merge", "expected"), [("[{concurrency: 1}, {concurrency: 3}]", 1),
                                                 ("[{concurrency: 3}, {concurrency: 1}]", 3)])
def test_in_a_list_of_merged_mappings_the_earlier_wins(tmp_path: Path, merge: str, expected: int) -> None:
    result = run_in_process("validate", str(_spec(tmp_path, MINIMAL + f"serving:\n  <<: {merge}\n")), "--json")
    assert result.code == 0, result.stderr
    assert f'"concurrency": {expected}' in result.stdout


def test_a_key_set_beside_a_merge_wins_when_that_mapping_is_merged_again() -> None:
    text = "low: &low {concurrency: 1}\nmid: &mid {<<: *low, concurrency: 3}\nserving: {<<: *mid}\n"
    assert parse_yaml(text, "spec.yaml")["serving"] == {"concurrency": 3}


def test_a_huge_flow_list_is_refused_while_parsing(tmp_path: Path) -> None:
    stderr = _refused(_spec(tmp_path, "x: [" + "1," * 500_000 + "1]\n"))
    assert f"holds more than {MAX_COMPOSED} keys and values" in stderr


def test_thousands_of_problems_print_a_bounded_report(tmp_path: Path) -> None:
    stderr = _refused(_spec(tmp_path, MINIMAL + "concurrency: 2\n" * 2000))
    assert stderr.count("duplicate key") == MAX_SHOWN
    assert f"... and {1999 - MAX_SHOWN} more problems" in stderr


@pytest.mark.parametrize("extra", [
    f"secrets:\n  api-keys: {{}}\n  {CANARY}: {{backend: kubernetes}}\n",
    f"secrets:\n  api-keys: {{}}\n  x.{CANARY}: {{}}\n",
    f"serving: {{{CANARY}: 1}}\n",
    f"security: {{base_images: {{{CANARY}: x}}}}\n",
    f"runtime: {{kind: llamacpp, env: {{{CANARY}: x}}}}\n",
    f"secrets:\n  {CANARY}: {{}}\n  {CANARY}: {{}}\n",
    f"serving: {{auth: {{api_keys_secret: {CANARY}}}}}\nsecrets: {{declared-{CANARY}: {{}}}}\n",
    "model: {source: {kind: gguf, repo: a/b, file: m.gguf, revision: "
    + "0123456789abcdef0123456789abcdef01234567}, native_context: 4099, context_length: 8111}\n",
])
def test_no_key_name_or_number_the_user_chose_is_printed(tmp_path: Path, extra: str) -> None:
    text = "name: demo\nruntime: {kind: llamacpp}\n" + ("" if extra.startswith("model:") else "model: {id: qwen3-1.7b}\n")
    if extra.startswith("runtime:"):
        text = "name: demo\nmodel: {id: qwen3-1.7b}\n"
    stderr = _refused(_spec(tmp_path, text + extra))
    assert CANARY not in stderr.lower() and "4099" not in stderr and "8111" not in stderr
    assert re.search(r"spec\.yaml:\d+: ", stderr)


def test_an_encrypted_deployment_in_a_stack_file_is_named_as_one(tmp_path: Path) -> None:
    """`pulumi config set --secret` leaves only ciphertext; slm-deploy says so instead of listing missing fields."""
    stderr = _refused(_spec(tmp_path, f"config:\n  slm-deploy:deployment:\n    secure: AAABA{CANARY}\n"))
    assert "spec.yaml:2: config.slm-deploy:deployment: is an encrypted (secure) Pulumi value" in stderr
    assert CANARY not in stderr and "required key" not in stderr
