"""Physical Azure names scoped to the stack and the component, so one spec deployed twice (two stacks, or two
components in one program) never asks Azure for the same resource group, cluster or Key Vault name twice.

The suffix is a digest of project, stack and component name: the same program always gets the same names, and
Key Vault's global namespace sees a different name for every deployment of the spec.
"""

from __future__ import annotations

import hashlib

import pulumi

SUFFIX_LENGTH = 6
"""Hex digits of the scope digest appended to every scoped name."""
RESOURCE_GROUP_LIMIT = 90
CLUSTER_NAME_LIMIT = 63
KEY_VAULT_LIMIT = 24


def scope_suffix(component: str) -> str:
    """The digest that makes names unique per project, stack and component resource name."""
    scope = f"{pulumi.get_project()}/{pulumi.get_stack()}/{component}"
    return hashlib.sha256(scope.encode()).hexdigest()[:SUFFIX_LENGTH]


def scoped_name(base: str, suffix: str, limit: int) -> str:
    """`base`, shortened to leave room, then `-<suffix>`: at most `limit` characters, no doubled or trailing
    separator before the suffix (Key Vault refuses `--`, resource groups a trailing period)."""
    head = base[:limit - len(suffix) - 1].rstrip("-.")
    return f"{head}-{suffix}"
