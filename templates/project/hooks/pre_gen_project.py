"""Refuse answers that cannot make a working deployment, before a single file is written."""

import re
import sys

ANSWERS = {
    "runtime": "{{ cookiecutter.runtime }}",
    "target": "{{ cookiecutter.target }}",
    "gpu_type": "{{ cookiecutter.gpu_type }}",
    "exposure": "{{ cookiecutter.exposure }}",
    "monitoring": "{{ cookiecutter.monitoring }}",
    "secret_store": "{{ cookiecutter.secret_store }}",
}
ENVIRONMENTS = {{ cookiecutter.environments | tojson }}
CLUSTER = ("kubernetes", "aks")
STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
DEPLOYMENT_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")

# (broken when, the message that says which answers clash and what works instead)
RULES = [
    (lambda a: a["runtime"] == "foundry-local" and a["target"] != "host",
     "runtime=foundry-local installs on a host: choose target=host"),
    (lambda a: a["target"] == "host" and a["runtime"] != "foundry-local",
     "target=host is for runtime=foundry-local; container runtimes use target=compose, kubernetes or aks"),
    (lambda a: a["runtime"] == "vllm" and a["gpu_type"] == "none",
     "runtime=vllm needs a GPU: choose a gpu_type, or runtime=ollama, llamacpp or onnxruntime for CPU"),
    (lambda a: a["target"] == "host" and a["gpu_type"] != "none",
     "target=host uses the host's own accelerator: leave gpu_type=none"),
    (lambda a: a["exposure"] == "ingress" and a["target"] not in CLUSTER,
     "exposure=ingress needs a cluster: choose target=kubernetes or aks, or exposure=internal"),
    (lambda a: a["monitoring"] == "managed" and a["target"] != "aks",
     "monitoring=managed is Azure Managed Prometheus: choose target=aks, or monitoring=bundled"),
    (lambda a: a["monitoring"] in ("bundled", "existing", "managed") and a["target"] == "host",
     "target=host has no monitoring stack: choose monitoring=off"),
    (lambda a: a["monitoring"] == "existing" and a["target"] not in CLUSTER,
     "monitoring=existing means a Prometheus operator in the cluster: choose target=kubernetes or aks"),
    (lambda a: a["secret_store"] in ("kubernetes", "azure-key-vault", "external-secrets")
     and a["target"] not in CLUSTER,
     "secret_store={secret_store} mounts secrets into pods: choose target=kubernetes or aks, or secret_store=file"),
    (lambda a: a["secret_store"] == "azure-key-vault" and a["target"] != "aks",
     "secret_store=azure-key-vault is wired to the cluster slm-deploy creates: choose target=aks"),
    (lambda a: a["secret_store"] == "file" and a["target"] in CLUSTER,
     "secret_store=file is for Compose: on a cluster choose kubernetes, azure-key-vault or external-secrets"),
]


def problems() -> list[str]:
    """Every rule the answers break, plus environment names Pulumi would refuse."""
    found = [message.format(**ANSWERS) for broken, message in RULES if broken(ANSWERS)]
    if not DEPLOYMENT_NAME.match({{ cookiecutter.deployment_name | tojson }}):
        found.append("deployment_name: must be lower-case letters, digits and '-', starting with a letter "
                     "(it names services, objects and the namespace); deployment_name defaults to project_name "
                     "in lower case: set deployment_name=... explicitly")
    if any(not character.isprintable() for character in {{ cookiecutter.project_name | tojson }}):
        found.append("project_name: one line of printable text (it becomes the README title and the Pulumi "
                     "project's description)")
    names = [name.strip() for name in ENVIRONMENTS.split(",") if name.strip()]
    if not names:
        found.append("environments: name at least one, e.g. dev,prod")
    if any(not STACK_NAME.match(name) for name in names):
        found.append("environments: each must be lower-case letters, digits and '-', starting with a letter")
    if len(set(names)) != len(names):
        found.append("environments: each name once")
    return found


if __name__ == "__main__":
    refused = problems()
    for message in refused:
        print(f"error: {message}", file=sys.stderr)
    sys.exit(2 if refused else 0)
