"""Print field paths without the keys a user chose: a secret's name or an unknown key may be a pasted
token, so such a key is shown by its position in its mapping. A key the runtime itself defines (a variable
a runtime's interface record lists under runtime.env, a Modelfile parameter Ollama knows) is shown by name."""

from __future__ import annotations

from functools import cache
from typing import Any

from slm_deploy.errors import Problem
from slm_deploy.spec.base import SpecModel
from slm_deploy.spec.deployment import DeploymentSpec  # noqa: F401 - defines every model of the spec
from slm_deploy.spec.images import pins_table
from slm_deploy.spec.modelfile_parameters import OLLAMA_PARAMETERS
from slm_deploy.spec.runtime_records import RECORD_OF, record_of

STACK_WORDS = frozenset({"config", "slm-deploy:deployment", "value"})
"""The keys of a Pulumi stack file on the way to the deployment."""


@cache
def field_names() -> frozenset[str]:
    """Every key the spec's schema defines, the default secret names and the rows of the shipped pins table
    (security.base_images keys): printing one of these echoes nothing the user invented."""
    names, pending = set(STACK_WORDS) | set(pins_table()), [SpecModel]
    while pending:
        model = pending.pop()
        names.update(model.model_fields)
        names.update(f.default for n, f in model.model_fields.items() if n.endswith("_secret") and isinstance(f.default, str))
        pending.extend(model.__subclasses__())
    return frozenset(names)


@cache
def runtime_names() -> dict[str, frozenset[str]]:
    """Mapping path -> the keys the runtimes define there: names from their records, public and echoing nothing."""
    variables = frozenset().union(*(record_of(kind).env for kind in RECORD_OF))
    return {"runtime.env": variables, "runtime.modelfile.parameters": frozenset(OLLAMA_PARAMETERS)}


def shown_key(key: Any, position: int, parent: str = "") -> str:
    """The key itself if the schema or, under `parent`, the runtime defines it, else its 1-based position."""
    known = field_names() | runtime_names().get(parent.removeprefix("config.slm-deploy:deployment.value.")
                                                  .removeprefix("config.slm-deploy:deployment."), frozenset())
    return key if isinstance(key, str) and key in known else f"<key {position}>"


def _steps(path: str, data: Any) -> str:
    """Rewrite a dotted path over `data`, matching the longest key at each mapping (keys may hold dots)."""
    out, rest, node = "", path, data
    while rest:
        if rest.startswith("["):
            index, _, rest = rest[1:].partition("]")
            out += f"[{index}]"
            node = node[int(index)] if isinstance(node, list) and index.isdigit() and int(index) < len(node) else None
        else:
            keys = list(node) if isinstance(node, dict) else []
            matches = [k for k in keys if isinstance(k, str) and rest.startswith(k)
                       and rest[len(k):len(k) + 1] in ("", ".", "[")]
            key = max(matches, key=len) if matches else rest.split(".")[0].split("[")[0]
            out += ("." if out else "") + shown_key(key, keys.index(key) + 1 if key in keys else 0, out)
            rest = rest[len(key):]
            node = node.get(key) if isinstance(node, dict) else None
        rest = rest.removeprefix(".")
    return out


def redact_path(path: str, data: Any) -> str:
    """`path` with each user-chosen key replaced by its position; `<spec>` and file names pass through."""
    if not path or path.startswith("<"):
        return path
    return _steps(path, data)


def redacted(problems: list[Problem], data: Any) -> list[Problem]:
    """The same problems with their paths redacted against the document they point into."""
    return [Problem(redact_path(p.path, data), p.message, p.allowed, p.hint, p.location) for p in problems]
