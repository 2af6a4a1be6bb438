"""Every rendered Dockerfile of every example stack passes hadolint, Trivy and the policy pack's docker rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slm_deploy.policies import check_bundle
from tests.conftest import stack_id
from tests.render.bundles import rendered, stacks_with
from tests.support import judges

DOCKER_STACKS = stacks_with("docker/*/Dockerfile")


@pytest.fixture(scope="module", params=DOCKER_STACKS, ids=stack_id)
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered(request.param, tmp_path_factory)


def dockerfiles(bundle: Path) -> list[Path]:
    return sorted(bundle.glob("docker/*/Dockerfile"))


def test_every_example_with_images_is_covered() -> None:
    assert {stack_id(s) for s in DOCKER_STACKS} >= {"ollama-webui-compose", "phi4-onnx-edge", "phi4-vllm-aks",
                                                   "qwen3-llamacpp-edge"}


def test_hadolint_reports_nothing_at_warning_or_above(bundle: Path) -> None:
    findings = [f for dockerfile in dockerfiles(bundle) for f in judges.hadolint(dockerfile)]
    assert findings == [], judges.describe(findings)


def test_trivy_config_reports_no_high_or_critical(bundle: Path) -> None:
    findings = judges.trivy_config(bundle / "docker")
    assert findings == [], judges.describe(findings)


def test_policy_pack_docker_rules_pass(bundle: Path) -> None:
    report = check_bundle(bundle)
    docker = [f for f in report.findings if f.rule.startswith("slm-docker-")]
    assert docker == [], "\n".join(map(str, docker))


def test_hardening_contract_of_every_dockerfile(bundle: Path) -> None:
    for dockerfile in dockerfiles(bundle):
        text = dockerfile.read_text()
        final = text.split("\nFROM ")[-1]
        assert re.search(r"^FROM .+:[^@\s]+@sha256:[0-9a-f]{64} AS ", text, re.M), dockerfile
        assert re.search(r"^USER 10001:10001$", final, re.M), dockerfile
        assert len(re.findall(r"^HEALTHCHECK ", text, re.M)) == 1, dockerfile
        assert re.search(r'^HEALTHCHECK .* CMD \[".+"\]$', text, re.M), dockerfile
        assert not re.search(r"^ADD ", text, re.M), dockerfile
        assert re.search(r'^(ENTRYPOINT|CMD) \[', final, re.M), dockerfile
        assert "find / -xdev -perm /6000" in final, dockerfile
        assert re.search(r'^LABEL org\.opencontainers\.image\.title=', final, re.M), dockerfile
        assert not re.search(r"^(ENV|ARG) .*(TOKEN|SECRET|PASSWORD|API_KEY)", text, re.M | re.I), dockerfile


def test_caches_point_at_the_writable_volume(bundle: Path) -> None:
    for dockerfile in dockerfiles(bundle):
        text = dockerfile.read_text()
        for variable in ("HOME", "XDG_CACHE_HOME"):
            assert re.search(rf'^\s*(ENV )?{variable}="/var/cache/slm', text, re.M), (dockerfile, variable)


def test_servers_run_offline_once_weights_are_prefetched(bundle: Path) -> None:
    for dockerfile in dockerfiles(bundle):
        text = dockerfile.read_text()
        description = re.search(r'org\.opencontainers\.image\.description="([^"]+)"', text).group(1)
        if description.startswith(("vLLM", "ONNX Runtime GenAI")):
            assert 'HF_HUB_OFFLINE="1"' in text, dockerfile
