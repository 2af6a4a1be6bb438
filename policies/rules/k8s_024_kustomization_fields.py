"""K24: a kustomization applies only what `check` judged: the bundle's own files, unchanged but for digest pins."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.image_reference import SHA256_DIGEST
from slm_deploy.policies.access import items, mapping
from slm_deploy.policies.model import Rule, Severity

PLAIN_FIELDS = frozenset({"apiVersion", "kind", "namespace", "resources"})
"""Fields that only name the files applied and the namespace they land in."""
IDENTITY_ENV = "workload-identity.env"
"""The one generator input rendered: the Key Vault identity's client id, written by the operator."""
IDENTITY_TARGETS = {
    "SecretProviderClass": "spec.parameters.clientID",
    "ServiceAccount": "metadata.annotations.[azure.workload.identity/client-id]",
}
"""Kind -> the one field the identity's client id may be copied into."""


def _resources(kustomization):
    """Resources must be files next to the kustomization (no folders above, remote bases or URLs)."""
    for index, resource in enumerate(items(kustomization.get("resources"))):
        name = str(resource)
        if "/" in name or "\\" in name or not name.endswith((".yaml", ".yml")):
            yield f"resources[{index}] is not a YAML file next to the kustomization; check cannot judge what it applies"


def _images(kustomization):
    """Image overrides may only pin an image to a digest in its own repository."""
    for index, entry in enumerate(items(kustomization.get("images"))):
        entry = mapping(entry)
        if set(entry) - {"name", "newName", "digest"}:
            yield f"images[{index}] sets {', '.join(sorted(set(entry) - {'name', 'newName', 'digest'}))}; " \
                  "only a digest pin of the same image is allowed"
        if not SHA256_DIGEST.match(str(entry.get("digest") or "")):
            yield f"images[{index}] does not pin a sha256 digest"
        if "newName" in entry and entry.get("newName") != entry.get("name"):
            yield f"images[{index}].newName swaps the image for one from another repository"


def _generators(kustomization):
    """The only generator is the identity's client id, from its env file, with no inline content."""
    generators = items(kustomization.get("configMapGenerator"))
    for index, generator in enumerate(generators):
        generator = mapping(generator)
        options = mapping(generator.get("options"))
        if (set(generator) - {"name", "envs", "options"} or list(items(generator.get("envs"))) != [IDENTITY_ENV]
                or set(options) - {"disableNameSuffixHash"}):
            yield f"configMapGenerator[{index}] generates content check cannot judge (only {IDENTITY_ENV} is allowed)"
    names = {mapping(g).get("name") for g in generators}
    for index, replacement in enumerate(items(kustomization.get("replacements"))):
        if not _identity_replacement(mapping(replacement), names):
            yield f"replacements[{index}] rewrites fields check cannot judge (only the identity's client id is allowed)"


def _identity_replacement(replacement, generated) -> bool:
    """Whether a replacement only copies the generated client id into its two known fields."""
    source = mapping(replacement.get("source"))
    if set(replacement) - {"source", "targets"} or source != {
            "kind": "ConfigMap", "name": source.get("name"), "fieldPath": "data.clientID"} \
            or source.get("name") not in generated:
        return False
    for target in items(replacement.get("targets")):
        target = mapping(target)
        kind = mapping(target.get("select")).get("kind")
        if (set(target) - {"select", "fieldPaths", "options"} or kind not in IDENTITY_TARGETS
                or list(items(target.get("fieldPaths"))) != [IDENTITY_TARGETS[kind]]
                or set(mapping(target.get("select"))) - {"kind", "name"}):
            return False
    return True


def check(manifest, ctx):
    """Yield a violation per field that changes what is applied beyond the files the pack judged."""
    if not isinstance(manifest, Mapping):
        return
    handled = PLAIN_FIELDS | {"images", "configMapGenerator", "replacements"}
    for field in sorted(str(k) for k in manifest if str(k) not in handled):
        yield f"{field} changes what is applied after check judged the files; remove it and edit the files instead"
    yield from _resources(manifest)
    yield from _images(manifest)
    yield from _generators(manifest)


RULE = Rule(
    id="slm-k8s-024",
    name="Kustomizations apply the bundle's own files, changed at most by digest pins and the identity's client id.",
    severity=Severity.CRITICAL,
    controls=("K24",),
    kinds=frozenset({"Kustomization"}),
    crossguard=False,
    rationale="`kubectl apply -k` runs patches, image overrides, generators and remote bases that no rule sees: a "
              "one-line patch adds hostNetwork or swaps the image after every check passed.",
    remediation="Change the rendered files (or the spec) instead; keep the kustomization to resources, namespace, "
                "images pinned by digest in their own repository and the rendered workload-identity fields.",
    benchmarks=(),
    check=check,
    tags=("kubernetes", "supply-chain"),
)
