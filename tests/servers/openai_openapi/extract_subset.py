"""Cut the operations the ortgenai server implements out of the OpenAI API's OpenAPI document.

Usage: python extract_subset.py path/to/openapi.json > openapi-subset.json

Keeps the document's header, the chosen operations unchanged, and every component they reference
(transitively); everything else is dropped. Run it again on a newer document to refresh the subset.
"""

from __future__ import annotations

import json
import sys

OPERATIONS = {"/chat/completions": ("post",), "/models": ("get",), "/models/{model}": ("get",)}
HEADER_KEYS = ("openapi", "info", "servers", "security")


def references(node) -> set[str]:
    """Every local $ref under `node`."""
    found: set[str] = set()
    pending = [node]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                found.add(ref)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return found


def subset(document: dict) -> dict:
    """The header, the chosen operations, and the components they need."""
    paths = {path: {method: document["paths"][path][method] for method in methods}
             for path, methods in OPERATIONS.items()}
    components: dict[str, dict] = {}
    security_schemes = document["components"].get("securitySchemes", {})
    if security_schemes:
        components["securitySchemes"] = security_schemes
    pending = sorted(references(paths))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, section, kind, name = ref.split("/", 3)
        assert section == "components", ref
        target = document["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        pending.extend(sorted(references(target) - seen))
    for kind in components:
        components[kind] = dict(sorted(components[kind].items()))
    return {**{key: document[key] for key in HEADER_KEYS if key in document}, "paths": paths,
            "components": components}


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        json.dump(subset(json.load(source)), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
