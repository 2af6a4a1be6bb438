"""Free text (a system prompt, a waiver's reason) reaches rendered files: a ConfigMap's Modelfile, a build context,
manifest.json. Characters that a YAML or Modelfile reader takes as a line break, or that hide or reorder text, are
refused at validate; everything else renders into files every reader parses back to exactly what the spec said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import parse_deployment

from tests.support.cli import run_in_process

REFUSED = {"line separator": "\u2028", "paragraph separator": "\u2029", "next line": "\u0085",
           "carriage return": "\r", "vertical tab": "\v", "delete": "\x7f", "right-to-left override": "\u202e",
           "byte order mark": "\ufeff", "zero-width space": "\u200b", "C1 control": "\x9b"}
KEPT = " Réponds\tbrièvement 👋 — 答えは短く; مرحبا\u200cبك: # not a comment --- 'quoted' \"too\" - [x] {y}  "
"""Text every reader must carry through unchanged: tabs, accents, emoji, CJK and right-to-left scripts, a joiner,
YAML indicators, quotes, and leading and trailing spaces."""
PROMPT_KEPT = KEPT.replace("\u200c", "")
"""The same without the joiner, which Ollama's Modelfile parser drops (Go's unicode.IsPrint excludes format
characters), so a system prompt holding one is refused (tests/spec/test_modelfile_stop.py)."""
WAIVER = {"rule": "slm-compose-013", "resource": "compose/compose.yaml"}


def _spec(prompt: str, reason: str) -> dict:
    return {"name": "demo", "model": {"id": "qwen3-1.7b"},
            "runtime": {"kind": "ollama", "modelfile": {"system_prompt": prompt}},
            "targets": {"compose": {}, "kubernetes": {}, "docker": {"registry": "registry.example:5000"}},
            "waivers": [{**WAIVER, "reason": reason}]}


@pytest.mark.parametrize("field", ["runtime.modelfile.system_prompt", "waivers[0].reason"])
@pytest.mark.parametrize("character", sorted(REFUSED))
def test_a_line_break_or_hidden_character_in_free_text_is_refused(field: str, character: str, tmp_path: Path) -> None:
    text = f"reviewed by canary{REFUSED[character]}ops"
    spec = _spec(text, "reviewed by the platform team") if field.startswith("runtime") else _spec("Be brief.", text)
    path, out = tmp_path / "spec.yaml", tmp_path / "bundle"
    path.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML, and writes every character as an escape
    for command in (["validate", str(path)], ["render", str(path), "--out", str(out)]):
        result = run_in_process(*command)
        assert result.code == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"{field}: must be one line of visible text" in result.stderr, result.stderr
        assert "allowed: " in result.stderr and "canary" not in result.stderr
    assert not out.exists()


def test_free_text_renders_into_files_that_parse_back_to_it_exactly() -> None:
    files = render_bundle(parse_deployment(_spec(PROMPT_KEPT, KEPT))).files
    documents = {name: list(yaml.safe_load_all(text)) for name, text in files.items()
                 if name.endswith((".yaml", ".yml"))}
    line = f'SYSTEM """{PROMPT_KEPT}"""'
    config_maps = [doc for docs in documents.values() for doc in docs
                   if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and "Modelfile" in doc.get("data", {})]
    assert config_maps and all(line in cm["data"]["Modelfile"].splitlines() for cm in config_maps)
    build_modelfiles = [text for name, text in files.items() if name.startswith("docker/") and name.endswith("Modelfile")]
    assert build_modelfiles and all(line in text.splitlines() for text in build_modelfiles)
    assert json.loads(files["manifest.json"])["waivers"] == [{**WAIVER, "reason": KEPT}]
