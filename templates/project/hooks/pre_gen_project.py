"""Refuse answers that cannot make a working deployment before cookiecutter writes a single file: first the
rules between answers, then every stack the answers make, validated in memory by slm-deploy itself."""

import json
import re
import sys
from pathlib import Path

CONTEXT = {**json.loads({{ cookiecutter | tojson | tojson }}), "_repo_dir": {{ template_folder() | tojson }}}
"""Every answer and cookiecutter's own keys (_repo_dir: where the template is, absolute), as the templates see them,
decoded from JSON so no answer can become code in this hook."""
ANSWERS = {name: CONTEXT[name] for name in (
    "runtime", "target", "gpu_type", "exposure", "monitoring", "secret_store", "secrets_expire_on", "azure_tenant_id",
    "registry", "ingress_host", "vault_server")} | {"bind_address": "set" if CONTEXT["bind_address"] else ""}
ENVIRONMENTS = CONTEXT["environments"]
CLUSTER = ("kubernetes", "aks")
PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}")
NAME_LIMIT = 40
MONITORING_SUFFIX = "-monitoring"
"""What names each environment's bundled monitoring namespace on a shared cluster, after <deployment>-<env>."""
"""The longest namespace and Compose project name slm-deploy accepts (a DNS label it can suffix)."""
ONLY_READ_WHEN = {
    "ingress_host": (lambda a: a["exposure"] != "ingress", "only exposure=ingress reads it: leave it empty"),
    "registry": (lambda a: a["target"] == "host", "a host install builds no image: leave it empty"),
    "host_os": (lambda a: a["target"] != "host", "only target=host reads it: leave the default"),
    "vault_server": (lambda a: a["secret_store"] != "external-secrets",
                     "only secret_store=external-secrets reads it: leave it empty"),
}
"""Answers one target or exposure reads; set to anything but the default elsewhere, they would be ignored."""
TENANT_ID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
NIL_TENANT = "00000000-0000-0000-0000-000000000000"
RESERVED = ("example.com, example.net, example.org, example, invalid and names under them, and the documentation "
            "networks 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24, are reserved for documentation")


def documentation_host(answer: str) -> bool:
    """Whether a registry, domain or URL answer names a host reserved for documentation."""
    from slm_deploy.spec.hosts import documentation_host as reserved  # importable: private_problems() ran first

    return reserved(re.split(r"[:/]", re.sub(r"^https://", "", answer, flags=re.IGNORECASE), maxsplit=1)[0])


STACK_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
DEPLOYMENT_NAME = re.compile(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?")


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
    (lambda a: a["exposure"] == "internal" and a["target"] == "compose" and not a["bind_address"],
     "exposure=internal on Compose publishes the gateway on one address of this host: set bind_address to the "
     "host's address on the internal network"),
    (lambda a: a["bind_address"] and not (a["exposure"] == "internal" and a["target"] == "compose"),
     "bind_address is where Compose publishes with exposure=internal: leave it empty for other answers"),
    (lambda a: a["exposure"] == "internal" and a["target"] == "host",
     "target=host serves Foundry Local on loopback only (no API-key gateway runs on a host): choose exposure=none"),
    (lambda a: a["secret_store"] == "file" and a["target"] == "host",
     "target=host keeps no secrets (Foundry Local has no API keys): leave secret_store=default"),
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
    (lambda a: a["secrets_expire_on"] and a["secret_store"] != "azure-key-vault",
     "secrets_expire_on dates the secrets Pulumi writes to Key Vault: leave it empty unless "
     "secret_store=azure-key-vault"),
    (lambda a: a["secret_store"] == "azure-key-vault" and not a["azure_tenant_id"],
     "azure_tenant_id: secret_store=azure-key-vault needs the Entra ID tenant the vault trusts: set "
     "azure_tenant_id=<the tenant id `az account show --query tenantId -o tsv` prints>"),
    (lambda a: a["azure_tenant_id"] and a["secret_store"] != "azure-key-vault",
     "azure_tenant_id names the tenant of the Key Vault Pulumi creates: leave it empty unless "
     "secret_store=azure-key-vault"),
    (lambda a: a["azure_tenant_id"] and (not TENANT_ID.fullmatch(a["azure_tenant_id"])
                                         or a["azure_tenant_id"] == NIL_TENANT),
     "azure_tenant_id: a tenant id is a GUID (8-4-4-4-12 hex digits) and not the all-zero placeholder; "
     "`az account show --query tenantId -o tsv` prints yours"),
    (lambda a: a["target"] in CLUSTER and not a["registry"],
     "registry: target={target} pulls the images slm-deploy builds from a registry: set registry=<the registry "
     "host (and path) the cluster pulls from, e.g. myteam.azurecr.io>"),
    (lambda a: a["exposure"] == "ingress" and a["target"] in CLUSTER and not a["ingress_host"],
     "ingress_host: exposure=ingress serves each environment at <environment>.<ingress_host> over TLS: set "
     "ingress_host=<a domain whose DNS you control>"),
    (lambda a: documentation_host(a["registry"]),
     f"registry: {RESERVED} and nobody can push there: set the registry you use (e.g. myteam.azurecr.io), or "
     "leave it empty on Compose to build on this host"),
    (lambda a: documentation_host(a["ingress_host"]),
     f"ingress_host: {RESERVED} and no certificate can be issued for them: set a domain whose DNS you control"),
    (lambda a: a["ingress_host"] and "." not in a["ingress_host"],
     "ingress_host: a single label is no public domain, and Let's Encrypt issues no certificate under it: set a "
     "domain whose DNS you control, such as llm.<your domain>"),
    (lambda a: a["secret_store"] == "external-secrets" and not a["vault_server"],
     "vault_server: secret_store=external-secrets reads the secrets from your team's HashiCorp Vault: set "
     "vault_server=<its https URL, e.g. https://vault.<your domain>:8200>"),
    (lambda a: documentation_host(a["vault_server"]),
     f"vault_server: {RESERVED} and no Vault answers there: set the https URL of your team's Vault"),
    (lambda a: a["secret_store"] == "file" and a["target"] in CLUSTER,
     "secret_store=file is for Compose: on a cluster choose kubernetes, azure-key-vault or external-secrets"),
]


def problems() -> list[str]:
    """Every rule the answers break, plus environment names Pulumi would refuse."""
    found = [message.format(**ANSWERS) for broken, message in RULES if broken(ANSWERS)]
    if not DEPLOYMENT_NAME.fullmatch(CONTEXT["deployment_name"]):
        found.append("deployment_name: must be lower-case letters, digits and '-', starting with a letter "
                     "(it names services, objects and the namespace); deployment_name defaults to project_name "
                     "in lower case: set deployment_name=... explicitly")
    if not PROJECT_NAME.fullmatch(CONTEXT["project_name"]):
        found.append("project_name: letters, digits, spaces and . _ -, starting with a letter or digit, at most 63 "
                     "(it becomes the README title and the Pulumi project's description)")
    names = [name.strip() for name in ENVIRONMENTS.split(",") if name.strip()]
    if not names:
        found.append("environments: name at least one, e.g. dev,prod")
    if any(not STACK_NAME.fullmatch(name) for name in names):
        found.append("environments: each must be lower-case letters, digits and '-', starting with a letter")
    if len(set(names)) != len(names):
        found.append("environments: each name once")
    own_stack = ANSWERS["target"] == "kubernetes" and ANSWERS["monitoring"] in ("default", "bundled")
    suffix = MONITORING_SUFFIX if own_stack else ""
    if own_stack and any(f"{name}{suffix}" in names for name in names):
        found.append(f"environments: an environment may not be named <another environment>{suffix}: its "
                     f"namespace would be the other's monitoring namespace")
    room = NAME_LIMIT - 1 - max((len(name) for name in names), default=0) - len(suffix)
    if ANSWERS["target"] != "host" and len(CONTEXT["deployment_name"]) > room:
        found.append(f"deployment_name: at most {max(room, 0)} characters with these environments "
                     f"(<deployment_name>-<environment>{suffix} names each "
                     f"{'monitoring namespace' if own_stack else 'namespace and Compose project'}, at most "
                     f"{NAME_LIMIT}): shorten deployment_name or the longest environment name")
    if ANSWERS["target"] == "host" and len(names) > 1:
        found.append("environments: target=host writes the same stack for every environment (Foundry Local on "
                     "a host has no size to vary): name one, and run it on each machine")
    found += [f"{answer}: {why}" for answer, (unused, why) in ONLY_READ_WHEN.items()
              if unused(ANSWERS) and CONTEXT[answer] != default(answer)]
    return found


def offered() -> dict[str, object]:
    """What cookiecutter.json offers for each answer: a default, or a choice's options."""
    return json.loads((Path(CONTEXT["_repo_dir"]) / "cookiecutter.json").read_text(encoding="utf-8"))


def default(answer: str) -> str:
    """The answer cookiecutter.json offers first (a choice's first option)."""
    first = offered()[answer]
    return first[0] if isinstance(first, list) else first


COOKIECUTTER_KEYS = ("_template", "_output_dir", "_repo_dir", "_checkout")
"""The private keys cookiecutter itself sets in every context, after it has read a replay file."""


def answer_problems() -> list[str]:
    """Keys the template does not define (a replay file can add keys cookiecutter obeys, such as
    `_copy_without_render`), counted since a key is input too, and answers that are not text (from a replay or
    config file), which no rule below could read."""
    unknown = [key for key in CONTEXT if key not in offered() and key not in COOKIECUTTER_KEYS]
    found = [f"the answers hold {len(unknown)} key(s) the template does not define (a replay file can add keys "
             "cookiecutter obeys): generate from the template's own answers, e.g. `slm-deploy new --replay-file`, "
             "which reads only its template variables"] if unknown else []
    return found + [f"{answer}: every answer is text; this one is not" for answer in offered()
                    if not answer.startswith("_") and not isinstance(CONTEXT.get(answer), str)]


def unoffered_choices() -> list[str]:
    """Choices answered (e.g. from a replay file, which cookiecutter does not check) with an option not offered."""
    return [f"{answer}: choose one of {', '.join(options)}" for answer, options in offered().items()
            if isinstance(options, list) and not answer.startswith("_") and CONTEXT[answer] not in options]


NOT_IMPORTABLE = ("slm-deploy is not importable by the Python that runs cookiecutter; install it there "
                  "(pip install slm-deploy) or use `slm-deploy new`")


def private_problems() -> list[str]:
    """Private answers (a replay file's `_extensions`, say) the template does not own or did not derive."""
    try:
        from slm_deploy.cli.scaffold import private_answer_problems
    except ImportError:
        return [NOT_IMPORTABLE]
    return private_answer_problems(CONTEXT)


def source_problems() -> list[str]:
    """Why requirements.txt could not name where slm-deploy comes from (never a bare name on an index)."""
    from slm_deploy.cli.install_source import project_source_problem  # importable: private_problems() ran first

    problem = project_source_problem(CONTEXT["slm_deploy_source"])
    return [problem] if problem else []


def stack_problems() -> list[str]:
    """Why slm-deploy would refuse a stack these answers make, rendered in memory from the template, and what
    generating them over an existing project (cookiecutter -f) would lose."""
    try:
        from slm_deploy.cli.scaffold import regeneration_problems, rendered_stacks, stack_problems as refused_stacks
    except ImportError:
        return [NOT_IMPORTABLE]
    stacks = rendered_stacks(CONTEXT)
    return refused_stacks(stacks) + regeneration_problems(Path("."), stacks)  # run in the project folder


if __name__ == "__main__":
    if Path(__file__).name != "pre_gen_project.py":
        Path(__file__).unlink()  # cookiecutter's rendered copy of this hook, which holds every answer, is not kept
    refused = (answer_problems() or private_problems() or unoffered_choices() or problems() + source_problems()
               or stack_problems())
    for message in refused:
        print(f"error: {message}", file=sys.stderr)
    sys.exit(2 if refused else 0)
