"""The client snippets of a scaffolded project's README, from the endpoint each stack's bundle will serve."""

from __future__ import annotations

from pathlib import Path

from slm_deploy.render.clients import client_endpoint
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.spec.loader import load_deployment


def clients_section(stacks: list[Path]) -> str:
    """A README section with curl and OpenAI Python snippets per stack (none for a stack without a client endpoint)."""
    parts = ["## Clients", "",
             "The endpoint speaks the OpenAI API. With auth on, keep the key in a file only you can read and "
             "`export SLM_API_KEY=\"$(cat ~/.config/<name>.key)\"`; the rendered bundle's README lists every client."]
    for stack in stacks:
        deployment = load_deployment(stack)
        endpoint = client_endpoint(deployment, deployable_plan(deployment))
        if endpoint is None:
            continue
        env = stack.stem.removeprefix("Pulumi.")
        header = '-H "Authorization: Bearer $SLM_API_KEY" ' if endpoint.auth else ""
        key = 'os.environ["SLM_API_KEY"]' if endpoint.auth else '"unused"'
        parts += ["", f"### {env}", "", f"`{endpoint.url}/v1`, reached from {endpoint.reached_from}.", "",
                  "```sh",
                  f"curl -sS {header}-H 'Content-Type: application/json' {endpoint.url}/v1/chat/completions \\",
                  f"  -d '{{\"model\": \"{endpoint.model}\", \"messages\": "
                  "[{\"role\": \"user\", \"content\": \"Say hello.\"}]}'",
                  "```", "", "```python", "import os", "", "from openai import OpenAI", "",
                  f'client = OpenAI(base_url="{endpoint.url}/v1", api_key={key})',
                  f'reply = client.chat.completions.create(model="{endpoint.model}",',
                  '                                        messages=[{"role": "user", "content": "Say hello."}])',
                  "print(reply.choices[0].message.content)", "```"]
    return "\n".join(parts) + "\n"
