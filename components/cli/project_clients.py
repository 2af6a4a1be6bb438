"""The client snippets of a scaffolded project's README, from the endpoint each stack's bundle will serve."""

from __future__ import annotations

from pathlib import Path

from slm_deploy.render.clients import ClientEndpoint, client_endpoint
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.runtimes.capabilities import client_model_name
from slm_deploy.spec.loader import Deployment, load_deployment
from slm_deploy.spec.runtime_options import FoundryLocalOptions

HOST_SERVICE = "host"


def _endpoint(deployment: Deployment) -> ClientEndpoint | None:
    """The bundle's client endpoint, or for a host install (Foundry Local) the address the host serves on."""
    endpoint = client_endpoint(deployment, deployable_plan(deployment))
    host, runtime = deployment.spec.targets.host, deployment.spec.runtime
    if endpoint is None and host is not None and isinstance(runtime, FoundryLocalOptions) and runtime.port:
        return ClientEndpoint(f"http://{host.bind_address}:{runtime.port}", "the host's allowed clients",
                              HOST_SERVICE, runtime.port, client_model_name(deployment), auth=False, ollama=False)
    return endpoint


def clients_section(stacks: list[Path]) -> str:
    """A README section with curl and OpenAI Python snippets per stack (none for a stack without a client endpoint)."""
    parts = ["## Clients", "",
             "The endpoint speaks the OpenAI API. With auth on, keep the key in a file only you can read and "
             "`export SLM_API_KEY=\"$(cat ~/.config/<name>.key)\"`; the rendered bundle's README lists every client."]
    for stack in stacks:
        endpoint = _endpoint(load_deployment(stack))
        if endpoint is None:
            continue
        env = stack.stem.removeprefix("Pulumi.")
        header = '-H "Authorization: Bearer $SLM_API_KEY" ' if endpoint.auth else ""
        key = 'os.environ["SLM_API_KEY"]' if endpoint.auth else '"unused"'
        on_host = endpoint.service == HOST_SERVICE
        note = (" Foundry Local serves the model under the id of the variant it loaded for this host, so the "
                "snippets ask `/v1/models` for it." if on_host else "")
        lookup = ([f"MODEL=\"$(curl -sS {endpoint.url}/v1/models | "
                   "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"data\"][0][\"id\"])')\""]
                  if on_host else [])
        curl_model = "'\"$MODEL\"'" if on_host else endpoint.model
        python_model = "client.models.list().data[0].id" if on_host else f'"{endpoint.model}"'
        parts += ["", f"### {env}", "", f"`{endpoint.url}/v1`, reached from {endpoint.reached_from}.{note}", "",
                  "```sh", *lookup,
                  f"curl -sS {header}-H 'Content-Type: application/json' {endpoint.url}/v1/chat/completions \\",
                  f"  -d '{{\"model\": \"{curl_model}\", \"messages\": "
                  "[{\"role\": \"user\", \"content\": \"Say hello.\"}]}'",
                  "```", "", "```python", "import os", "", "from openai import OpenAI", "",
                  f'client = OpenAI(base_url="{endpoint.url}/v1", api_key={key})',
                  f"reply = client.chat.completions.create(model={python_model},",
                  '                                        messages=[{"role": "user", "content": "Say hello."}])',
                  "print(reply.choices[0].message.content)", "```"]
    return "\n".join(parts) + "\n"
