"""Loading the policy pack reads no spec models: its rules judge rendered output with the standard library and the
few pure tables they share with the spec's validation, so a security team's stacks need nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

PURE_SPEC_MODULES = {"slm_deploy.spec", "slm_deploy.spec.cluster_namespaces", "slm_deploy.spec.env_classes",
                     "slm_deploy.spec.host_paths", "slm_deploy.spec.mlx_layout", "slm_deploy.spec.model_records"}
"""The spec package's modules the rules share: name tables and patterns, standard library only."""
LOAD_THE_PACK = """
import json, sys
from slm_deploy.policies.crossguard import build_policies
policies = build_policies()
print(json.dumps({"policies": len(policies), "modules": sorted(sys.modules)}))
"""


def test_loading_the_pack_imports_no_spec_models_and_no_generator() -> None:
    out = subprocess.run([sys.executable, "-c", LOAD_THE_PACK], capture_output=True, text=True, check=True, timeout=120)
    loaded = json.loads(out.stdout)
    assert loaded["policies"] > 50
    modules = set(loaded["modules"])
    assert not {m for m in modules if m == "pydantic" or m.startswith(("pydantic.", "pydantic_core"))}
    assert {m for m in modules if m.startswith("slm_deploy.spec")} <= PURE_SPEC_MODULES
    assert not {m for m in modules if m.startswith(("slm_deploy.render", "slm_deploy.runtimes"))}


def test_the_trust_remote_code_rule_reads_the_variable_the_spec_refuses() -> None:
    from slm_deploy.spec.env_classes import TRUST_REMOTE_CODE_ENV, UNSAFE
    from slm_deploy.spec.launch_env import class_refusal

    assert UNSAFE.pattern.search(TRUST_REMOTE_CODE_ENV)
    assert class_refusal("vllm", TRUST_REMOTE_CODE_ENV) == UNSAFE.reason
