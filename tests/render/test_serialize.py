"""The bundle's YAML is what PyYAML's own safe representer and resolver make of the same data, byte for byte:
the serialiser's shortcuts for plain data and its cache of scalar tags change how fast, never what is written."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_deploy.render.serialize import to_yaml


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
                           "2026-12-02", "<<", "=", "é", "\t"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _TRICKY,
                     st.text(max_size=20))
_DATA = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.one_of(_TRICKY, st.text(max_size=8)),
                                                                        inner, max_size=4)), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _DATA, max_size=5))
def test_bundle_yaml_matches_pyyamls_safe_representer(data: Any) -> None:
    assert to_yaml(data) == _reference_yaml(data)


def test_values_outside_plain_data_take_pyyamls_own_path() -> None:
    assert to_yaml({"pair": (1, "two"), "nan": float("nan")}) == _reference_yaml({"pair": (1, "two"),
                                                                                 "nan": float("nan")})


def test_long_and_repeated_strings_are_written_as_pyyaml_writes_them() -> None:
    """Short strings are kept as ready events between documents, long ones are not: both read the same."""
    data = {"short": ["yes", "plain", "a: b"], "long": ["x" * 300, "yes " * 80, ("line\n" * 80)], "again": "yes"}
    for _ in range(2):
        assert to_yaml(data) == _reference_yaml(data)
