"""Child names every slm-deploy component derives from its own name (`<component>-<suffix>`), checked across the
program: a user's component named like another one's child (`KubernetesWorkloads("phi4-k8s")` beside
`SlmDeployment("phi4")`) would derive the same child names, which Pulumi refuses as duplicate URNs only once
both register, or which would leave two components managing one object. Stopped at construction, naming both."""

from __future__ import annotations

import pulumi

from slm_deploy.program_state import program_table


class ChildNameCollisionError(pulumi.RunError):
    """Two slm-deploy components of one program derive the same child name."""


def claim_child_names(component: pulumi.ComponentResource) -> None:
    """Record the names of `component`'s direct children; refuse one another component of its type already has."""
    table = program_table("child-names")
    if not table:
        table.append({})
    owners: dict[tuple[str, str, str], pulumi.ComponentResource] = table[0]
    for child in sorted(component._childResources, key=lambda c: (c._type, c._name)):
        first = owners.setdefault((component._type, child._type, child._name), component)
        if first is not component:
            raise ChildNameCollisionError(
                f"{_pair(component, first)} derive the same name for a {child._type} child: children are named "
                "<component name>-<suffix> (SlmDeployment 'x' creates x-images, x-k8s, x-monitoring, x-aks, "
                "x-add-ons and x-key-vault), so rename one of the two")


def _label(component: pulumi.ComponentResource) -> str:
    return f"{component._type.rsplit(':', 1)[-1]} {component._name!r}"


def _pair(component: pulumi.ComponentResource, other: pulumi.ComponentResource) -> str:
    label = _label(component)
    return f"two components named {label}" if label == _label(other) else f"{label} and {_label(other)}"
