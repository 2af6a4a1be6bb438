"""The MLX host bundle: install, preparation and serving scripts, the gateway, and two launchd agents."""

from __future__ import annotations

import plistlib
import shlex

from slm_deploy.render.templating import render_template
from slm_deploy.runtimes.mlx import PYTHONS, SECRETS_DIR, install_root
from slm_deploy.runtimes.model_preparation import (
    CHECKPOINT_CHECK_CODE, CHECKPOINT_FILES, CHECKPOINT_REFUSED, PreparedModel, check_script, record_script,
)
from slm_deploy.runtimes.plan import MlxHost
from slm_deploy.servers.gateway.render import GATEWAY_CONFIG_FILE, gateway_sources
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.mlx_layout import LABEL_PREFIX, agent_arguments
from slm_deploy.spec.mlx_models import mlx_model_types

SERVER_FLAGS = ("--model", "--host", "--port", "--allowed-origins")
"""Every mlx_lm.server option serve.sh passes (checked against the pinned version's record)."""
CONVERT_FLAGS = ("--hf-path", "--mlx-path")
"""The mlx_lm.convert options prepare.sh always passes; the weight options come from the plan."""
SCRIPTS = ("install.sh", "prepare.sh", "serve.sh")


MODEL_TYPE_CHECK = "\n".join([
    "import json,sys",
    "try:",
    '    config=json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))',
    "except (OSError,ValueError,RecursionError):",
    "    config=None",
    'kind=config.get("model_type") if isinstance(config,dict) else None',
    "sys.exit(0 if isinstance(kind,str) and kind in sys.argv[2].split() else 1)",
])
"""Exit 0 only when config.json parses and its model_type is exactly one of the names given."""
SHASUM = "shasum -a 256"
"""macOS has no sha256sum; shasum writes and checks the same lines."""
MODEL_CONFIG = "config.json"
"""mlx_lm.convert writes it last into a complete model folder."""


def prepared(host: MlxHost) -> PreparedModel:
    """The converted model and the provenance prepare.sh records and serve.sh requires, in the containers' format."""
    return PreparedModel(
        f"{install_root(host.service)}/models/{host.served_name}", MODEL_CONFIG,
        (f"source=huggingface:{host.repo}", f"revision={host.revision}", "format=mlx",
         f"options={' '.join(host.convert_args)}", f"mlx-lm={host.version}"))


def agent_label(host: MlxHost, part: str) -> str:
    """The launchd label of one agent (server or gateway)."""
    return f"{LABEL_PREFIX}.{host.service}.{part}"


def _agent(host: MlxHost, part: str, arguments: list[str], env: dict[str, str]) -> str:
    """A launchd agent: started at login, restarted when it exits with an error, its output kept under logs/."""
    root = install_root(host.service)
    document = {
        "Label": agent_label(host, part),
        "ProgramArguments": arguments,
        "EnvironmentVariables": env,
        "WorkingDirectory": f"{root}/models",
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 30,
        "ProcessType": "Interactive" if part == "server" else "Standard",
        "Umask": 0o077,
        "StandardOutPath": f"{root}/logs/{part}.log",
        "StandardErrorPath": f"{root}/logs/{part}.log",
    }
    return plistlib.dumps(document, sort_keys=True).decode("utf-8")


def agents(host: MlxHost) -> dict[str, str]:
    """The server agent (serve.sh checks the prepared model, then runs mlx_lm.server) and the gateway agent."""
    root = install_root(host.service)
    offline = {"HF_HUB_OFFLINE": "1", "PATH": f"{root}/venv/bin:/usr/bin:/bin"}
    return {
        f"{agent_label(host, 'server')}.plist": _agent(
            host, "server", agent_arguments(host.service, "server"), offline),
        f"{agent_label(host, 'gateway')}.plist": _agent(
            host, "gateway", agent_arguments(host.service, "gateway"),
            {"PYTHONPATH": f"{root}/gateway", "PYTHONDONTWRITEBYTECODE": "1"}),
    }


def render_mlx_host(host: MlxHost, deployment: Deployment) -> dict[str, str]:
    """Every file of hosts/<service>/ for one MLX install."""
    base = f"hosts/{host.service}"
    context = {
        "host": host, "model": deployment.model, "root": install_root(host.service), "secrets": SECRETS_DIR,
        "pythons": PYTHONS,
        "labels": {part: agent_label(host, part) for part in ("server", "gateway")},
        "model_types": " ".join(sorted(mlx_model_types())),
        "includes": " ".join(f"--include {shlex.quote(pattern)}" for pattern in CHECKPOINT_FILES),
        "model_type_check": MODEL_TYPE_CHECK,
        "checkpoint_check": CHECKPOINT_CHECK_CODE,
        "unsupported": (f"the downloaded config.json does not parse or names no architecture (model_type) that "
                        f"mlx-lm {host.version} has a model class for"),
        "refused": CHECKPOINT_REFUSED,
        "scratch": prepared(host).scratch,
        "record": record_script(prepared(host), f"{prepared(host).scratch}/model", sha256=SHASUM),
        "check": check_script(prepared(host), sha256=SHASUM, remedy=f"run {install_root(host.service)}/bin/prepare.sh"),
    }
    files = {f"{base}/{name}": render_template(f"hosts/mlx-{name}.j2", **context) for name in SCRIPTS}
    files[f"{base}/README.md"] = render_template("hosts/mlx-README.md.j2", **context)
    files[f"{base}/requirements.txt"] = host.requirements
    files.update({f"{base}/launchd/{name}": text for name, text in agents(host).items()})
    files[f"{base}/gateway/{GATEWAY_CONFIG_FILE}"] = host.gateway_config
    files.update({f"{base}/gateway/{name}": text for name, text in gateway_sources().items()
                  if name != "requirements.txt"})
    return files
