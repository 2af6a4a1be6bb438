"""One grammar for references pinned by digest, which the policy pack reads without pydantic or the spec."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slm_deploy.image_reference import PINNED_BY_DIGEST
from slm_deploy.spec.images import IMAGE_PATTERN

HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize("ref, pinned", [
    (f"registry.example.com:5000/slm/gateway:src-1@sha256:{HEX}", True),
    (f"docker.io/library/nginx@sha256:{HEX}", True),
    (f"@sha256:{HEX}", False),
    (f":tag@sha256:{HEX}", False),
    (f"gateway:latest@sha256:{HEX[:-1]}", False),
    (f"Registry.example.com/gateway@sha256:{HEX}", False),
    (f"gateway@sha256:{HEX}\n", False),
])
def test_a_pinned_reference_names_an_image_and_its_digest(ref: str, pinned: bool) -> None:
    assert bool(PINNED_BY_DIGEST.match(ref)) is pinned


def test_the_spec_pattern_is_the_pinned_grammar_with_a_required_tag() -> None:
    import re

    assert re.match(IMAGE_PATTERN, f"nginx:1.27@sha256:{HEX}") and PINNED_BY_DIGEST.match(f"nginx:1.27@sha256:{HEX}")
    assert not re.match(IMAGE_PATTERN, f"nginx@sha256:{HEX}")


def test_the_digest_rules_load_without_pydantic_or_the_spec_package() -> None:
    rules = ("docker_002_pinned_base_images", "serving_004_image_digest", "k8s_023_chart_images_pinned")
    code = (f"import sys; [__import__('slm_deploy.policies.rules.' + r) for r in {rules!r}]; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' or m.startswith('slm_deploy.spec')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
