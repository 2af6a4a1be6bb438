"""The README's own Pulumi program, read from the README and run under mocks as a user would run it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pulumi
import yaml

from tests.conftest import ROOT
from tests.test_pulumi_components import ComponentMocks, kubernetes_onnx_spec
from tests.test_pulumi_composition import Registrations, assert_parented, assert_pinned

SECTION = "### Composing the components in your own program"


def readme_program() -> str:
    """The first Python block after the section heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_program_deploys_two_specs_into_one_namespace(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    phi4 = kubernetes_onnx_spec()
    canary = {**kubernetes_onnx_spec(), "name": "phi4-canary"}
    (tmp_path / "phi4.yaml").write_text(yaml.safe_dump(phi4), encoding="utf-8")
    (tmp_path / "phi4-canary.yaml").write_text(yaml.safe_dump(canary), encoding="utf-8")
    mocks, registrations = ComponentMocks(), Registrations()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project="models", stack="prod", preview=False)
    registrations.watch()
    pulumi.runtime.set_all_config({"models:registry": "registry.example.com/team", "models:kubeconfig": "{}",
                                   "models:phi4-api-keys": "a", "models:canary-api-keys": "b"})
    source = readme_program()
    pulumi.runtime.test(lambda: exec(compile(source, "README.md", "exec"), {"__name__": "__main__"}))()

    assert registrations.duplicates() == []
    assert_parented(registrations, {"models-prod", "cluster", "models", "phi4", "phi4-canary", "phi4-canary-images"})
    namespaces = [r.inputs["metadata"]["name"] for r in mocks.of_type("kubernetes:core/v1:Namespace")]
    assert sorted(namespaces) == ["models", "monitoring"]  # the program's own, and bundled monitoring's
    gateways = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["namespace"]
                for r in mocks.of_type("kubernetes:core/v1:Service")}
    assert gateways["phi4-onnx-gateway"] == "models" and gateways["phi4-canary-gateway"] == "models"
    tags = [tag for image in mocks.of_type("docker-build:index:Image") for tag in image.inputs["tags"]]
    assert len(tags) == 6 and all(tag.startswith("registry.example.com/team/slm/") for tag in tags)  # runtime,
    # gateway and model-download egress proxy of each
    assert (tmp_path / "build" / "phi4" / "docker").is_dir() and (tmp_path / "build" / "phi4-canary").is_dir()
    assert_pinned(mocks)
