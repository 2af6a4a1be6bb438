"""Azure look-ups (invokes) made with the same azure-native provider as the component's own resources."""

from __future__ import annotations

import pulumi


def invoke_options(component: pulumi.Resource | None) -> pulumi.InvokeOptions:
    """The component's azure-native provider (from opts providers=[...] or a parent), else the default one."""
    if component is None:
        return pulumi.InvokeOptions()
    return pulumi.InvokeOptions(parent=component, provider=component.get_provider("azure-native::invoke"))
