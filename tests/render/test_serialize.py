"""The bundle's YAML is what PyYAML's own safe representer and resolver make of the same data, byte for byte:
the serialiser's direct writer for plain data, its cache of each string's form and of scalar tags change how fast,
never what is written."""

from __future__ import annotations

from typing import Any

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_deploy.render import serialize
from slm_deploy.render.serialize import to_json, to_yaml


class _Reference(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The same emitter with PyYAML's own representer and resolver and the bundle's rules: no anchors, multi-line
    strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Reference.add_representer(
    str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                                       style="|" if "\n" in value else None))


def _reference_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Reference, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=4096)


# strings YAML would read as something else, or that need quoting, next to arbitrary text
_TRICKY = st.sampled_from(["", "yes", "no", "on", "off", "y", "N", "null", "~", "true", "False", "0x10", "010",
                           "1e3", "1.0", ".inf", "-.nan", "12:30", "a: b", "- x", "#c", " lead", "trail ", "a\nb",
                           "a\nb\n", "\n", "'q'", '"q"', "*alias", "&anchor", "!tag", "%", "@", "`", "{}", "[]",
                           "2026-12-02", "<<", "=", "é", "\t", "a:", "a:b", "a: ", "http://x:80/p", "x@sha256:0f",
                           "/data/models", "a #b", "a#b", "Off", "NULL", "Null", "ON", "-", "--", "---", "...",
                           "a\n\n", "a \nb", "\n a", " \n", "a\r\nb", "\u2028", "\x85", "\x07", "\ufeff",
                           'sum by (a) (rate(x{d="s",r=~"/v1/.*"}[5m])) > 0.5', "a - b", "a -b", "x #y", "x#y",
                           "(a: b)", "a:", "...x", ".x", "..x", "=x", "<<x", "~x", "^x", "$x", "\\x", "1:2:3", "0b1",
                           "1_0", "+.5", "Y", "yes please", "1 2", "k: v", "a\tb"])
# the characters that decide between plain, quoted and literal forms, in any order
_SHAPED = st.text(alphabet="aZ09_./@:- #'\"\n\t,[]{}!&*|>%?é()=~<$^;\\+`", max_size=24)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _TRICKY, _SHAPED,
                     st.text(max_size=20))
_KEYS = st.one_of(_TRICKY, _SHAPED, st.text(max_size=8))
_DATA = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=30)
_PLAIN_DATA = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _TRICKY, _SHAPED),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _DATA, max_size=5))
def test_bundle_yaml_matches_pyyamls_safe_representer(data: Any) -> None:
    assert to_yaml(data) == _reference_yaml(data)


def test_values_outside_plain_data_take_pyyamls_own_path() -> None:
    assert to_yaml({"pair": (1, "two"), "nan": float("nan")}) == _reference_yaml({"pair": (1, "two"),
                                                                                 "nan": float("nan")})


def _direct(data: Any) -> str | None:
    """What the direct writer alone makes of a document, or None where it leaves the document to libyaml."""
    out: list[str] = []
    try:
        (serialize._mapping if isinstance(data, dict) else serialize._sequence)(data, 0, False, out)
    except serialize._LeftToLibyaml:
        return None
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.dictionaries(_KEYS, _PLAIN_DATA, min_size=1, max_size=5), st.lists(_PLAIN_DATA, min_size=1,
                                                                                        max_size=5)))
def test_direct_writer_writes_libyamls_bytes_for_plain_data(data: Any) -> None:
    assert _direct(data) in (None, _reference_yaml(data))
    assert to_yaml(data) == _reference_yaml(data)


_TRICKY_DOCUMENTS = {
    "keys needing quotes": {"yes": 1, "": 2, "a: b": 3, "- x": 4, "#": 5, "1.0": 6, "null": 7, "é": 8, "a\nb": 9},
    "special scalars": {"v": ["true", "False", "~", "null", "0x1F", "0o17", "1_000", "+1", ".5", "-.inf", ".NaN",
                             "2026-12-03", "2026-12-03T11:00:00Z", "12:30:00", "<<", "=", "''", '""', "%x", "`"]},
    "unicode": {"é": "ünïcödé ✓", "emoji": "🙂", "rtl": "שלום", "bom": "\ufeffx", "nel": "a\x85b",
                "separator": "a\u2028b", "bell": "\x07", "escape": "\x1b[0m"},
    "multi-line": {"script": "set -eu\nexec server --port 8080\n", "no final break": "a\nb",
                   "indented": "  a\n    b\n", "blank lines": "a\n\n\nb\n", "kept breaks": "a\n\n",
                   "trailing spaces": "a  \nb", "tab": "a\tb\n\tc", "only a break": "\n",
                   "in a list": [{"run": "a\nb\n", "items": ["x\ny", ["p\nq"]]}]},
    "floats": {"f": [0.0, -0.0, 1.5, -2.25, 1e20, 1e-05, 123456789.125, float("inf"), float("-inf"), float("nan"),
                     5e-324, 1.7976931348623157e308]},
    "nesting": {"a": [[[{"b": [{}, [], {"c": None}]}]], {"d": {"e": {"f": [True, 0, -3, 10**30]}}}]},
}


@pytest.mark.parametrize("name", sorted(_TRICKY_DOCUMENTS))
def test_tricky_values_written_directly_match_libyaml(name: str) -> None:
    data = _TRICKY_DOCUMENTS[name]
    assert to_yaml(data) == _reference_yaml(data)
    assert _direct(data) in (None, _reference_yaml(data))


def test_plain_documents_are_written_directly() -> None:
    """The shortcut is taken: a Kubernetes object, names, multi-line scripts and quoted values included."""
    data = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "svc-001", "labels": {"on": "yes"}},
            "data": {"entrypoint.sh": "#!/bin/sh\nexec x\n", "port": "8080", "url": "http://svc-001:8080/v1"},
            "items": [{"image": "registry.example.com/x@sha256:0f"}, ["- a", "é"]]}
    assert _direct(data) == _reference_yaml(data)


def _nested(depth: int) -> Any:
    return {"x": _nested(depth - 1)} if depth else 1


@pytest.mark.parametrize("data", [
    {"long": "word " * 1000},                      # one line longer than the emitter's width: folded
    {"k" * 200: 1},                                # a key too long to be simple: written as `? key`
    {"kept": "a\n\n"},                            # kept final breaks end the document with `...`
    {"deep": _nested(300)},                        # indented past the writer's limit
    {1: "integer key"}, {"tuple": (1, 2)}, {"set": {1}},
])
def test_what_the_direct_writer_leaves_to_libyaml_still_matches(data: Any) -> None:
    assert _direct(data) is None
    assert to_yaml(data) == _reference_yaml(data)


_JSON_DATA = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _TRICKY, st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.one_of(_TRICKY, st.text(max_size=8)), inner, max_size=4)),
    max_leaves=40)


def _reference_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@settings(max_examples=300, deadline=None)
@given(_JSON_DATA)
def test_bundle_json_is_the_json_modules_bytes(data: Any) -> None:
    assert to_json(data) == _reference_json(data)


@pytest.mark.parametrize("data", [
    {"dashboard": {"panels": [{"id": 1, "targets": [{"expr": 'sum(rate(x{d="a"}[5m]))'}], "gridPos": {}}],
                   "tags": [], "refresh": None, "editable": False, "version": 1.5}},
    ["é", "\u2028", "\x00\x1f", '"quoted"\\', float("nan"), float("-inf"), -0.0, 10**40],
    {"int keys": {1: "a", 2: "b"}, "none key": {None: 1}},  # keys the json module turns into strings
    {"tuple": (1, (2, [])), "empty": [{}, []]},
])
def test_tricky_json_matches_the_json_module(data: Any) -> None:
    assert to_json(data) == _reference_json(data)
