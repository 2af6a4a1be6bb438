"""The canonical request target and the per-runtime route tables, on their own."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_deploy.servers.gateway.paths import InvalidTarget, _decode_once, _resolve, canonical_target
from slm_deploy.servers.gateway.routes import LLAMACPP, OLLAMA, ONNXRUNTIME, TABLES, VLLM, VLLM_DENIED
from tests.conftest import ROOT

PCHAR = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"


@pytest.mark.parametrize(
    ("raw", "path", "query"),
    [
        ("/v1/chat/completions", "/v1/chat/completions", ""),
        ("/api/%70ull", "/api/pull", ""),
        ("/api/delet%65", "/api/delete", ""),
        ("/api/%63reate?x=1", "/api/create", "x=1"),
        ("/api//pull", "/api/pull", ""),
        ("//api///pull/", "/api/pull/", ""),
        ("/v1/../api/pull", "/api/pull", ""),
        ("/v1/%2e%2e/api/pull", "/api/pull", ""),
        ("/v1/%2E./%2e/api/./pull", "/api/pull", ""),
        ("/../../v1/models", "/v1/models", ""),
        ("/v1/models/..", "/v1/", ""),
        ("/api/PULL", "/api/PULL", ""),
        ("http://runtime:11434/api/pull?a", "/api/pull", "a"),
        ("HTTPS://example.com", "/", ""),
        ("/v1/models/qwen3:1.7b", "/v1/models/qwen3:1.7b", ""),
        ("/v1/models/%71wen3%3A1.7b", "/v1/models/qwen3:1.7b", ""),
    ],
)
def test_targets_become_one_canonical_path(raw: str, path: str, query: str) -> None:
    target = canonical_target(raw)
    assert (target.path, target.query) == (path, query)


@pytest.mark.parametrize(
    "raw",
    [
        "/api%2Fpull", "/api%2fpull", "/v1/%252e%252e/api/pull", "/api/%", "/api/%7", "/api/%zzpull",
        "/api/%u0070ull", "/api\\pull", "/api/%5Cpull", "/api/p%00ull", "/api/pull#frag", "/api/pull?a#b",
        "/api/p\u00fcll", "/api/%C3%BCll", "/api/pull%3F", "/api/pull%23", "/api/p ull", "/api/{x}",
        "*", "api/pull", "runtime:11434", "http:/api/pull", "/api/pull?\u00e9",
    ],
)
def test_ambiguous_targets_are_refused(raw: str) -> None:
    with pytest.raises(InvalidTarget) as caught:
        canonical_target(raw)
    assert raw not in str(caught.value)


targets = st.lists(
    st.one_of(
        st.sampled_from(["", ".", "..", "%2e", "%2E%2e", "v1", "api", "pull", "models"]),
        st.text(alphabet=PCHAR + "%/", max_size=8),
    ),
    max_size=8,
).map(lambda segments: "/" + "/".join(segments))


@given(targets)
@settings(max_examples=400, deadline=None)
def test_canonical_form_is_a_fixed_point_that_no_router_decodes_further(raw: str) -> None:
    try:
        target = canonical_target(raw)
    except InvalidTarget:
        return
    path = target.path
    assert canonical_target(path).path == path
    assert unquote(path) == path  # nothing left to percent-decode
    assert "//" not in path and all(seg not in (".", "..") for seg in path.split("/"))
    assert set(path) <= set(PCHAR + "/")
    assert _resolve(_decode_once(path)) == path  # the fast path agrees with the full computation


def test_tables_cover_each_runtime_and_match_exactly() -> None:
    assert set(TABLES) == {"vllm", "ollama", "llamacpp", "onnxruntime", "foundry-local", "mlx"}
    assert OLLAMA.match("/v1/models/qwen3:1.7b").pattern == "/v1/models/{model}"  # type: ignore[union-attr]
    assert OLLAMA.match("/v1/models/a/b") is None and OLLAMA.match("/v1/models/") is None
    assert ONNXRUNTIME.match("/v1/models/org/name").pattern == "/v1/models/{model:path}"  # type: ignore[union-attr]
    assert OLLAMA.match("/api/pull") is None and OLLAMA.is_management("/api/pull")
    assert OLLAMA.is_management("/api/blobs/sha256:abc") and not OLLAMA.is_management("/api/blobs")
    assert VLLM.match("/invocations") is None and VLLM.is_management("/invocations")
    assert VLLM.is_management("/v1/load_lora_adapter")
    assert LLAMACPP.is_management("/slots/0") and LLAMACPP.match("/props") is None
    assert OLLAMA.match("/V1/models") is None and OLLAMA.match("/v1/chat/completions/") is None


def _vllm_record_endpoints() -> set[str]:
    """The endpoints vLLM's interface record lists, derived from the pinned wheel's routers."""
    record = yaml.safe_load((ROOT / "components/runtimes/interfaces/vllm.yaml").read_text(encoding="utf-8"))
    return set(record["endpoints"])


def test_every_route_of_the_pinned_mlx_lm_server_is_served_or_refused() -> None:
    record = yaml.safe_load((ROOT / "components/runtimes/interfaces/mlx-lm-server.yaml").read_text(encoding="utf-8"))
    served = {route.pattern for route in TABLES["mlx"].routes}
    refused = {path for path in TABLES["mlx"].management if "{" not in path}
    assert served | refused == set(record["endpoints"]) and not served & refused
    assert "/v1/models" in refused  # it lists the account's Hugging Face cache and the model's absolute path


def test_every_vllm_route_the_gateway_serves_exists_in_the_pinned_vllm() -> None:
    served = {route.pattern for route in VLLM.routes}
    assert served - _vllm_record_endpoints() == set()


def test_every_vllm_endpoint_is_served_or_denied_with_a_reason() -> None:
    served = {route.pattern for route in VLLM.routes}
    endpoints = _vllm_record_endpoints()
    assert served.isdisjoint(VLLM_DENIED)
    assert endpoints - served - set(VLLM_DENIED) == set()
    assert set(VLLM_DENIED) - endpoints == set()  # no reason kept for an endpoint vLLM no longer has
    assert all(reason.strip() for reason in VLLM_DENIED.values())
    assert all(VLLM.is_management(path.replace("{response_id}", "resp_1")) for path in VLLM_DENIED)
