"""Kubernetes-style byte quantities ("16Gi", "512Mi"), the unit every target understands."""

from __future__ import annotations

import math
import re
from decimal import Decimal

_UNITS = {
    "": 1,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
QUANTITY_PATTERN = r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$"
_QUANTITY = re.compile(QUANTITY_PATTERN)
GIB = 2**30
MIB = 2**20
MAX_BYTES = 2**50
"""1024Ti: more than any node's memory or any model volume; larger values overflow the targets' integers."""


def parse_bytes(text: str) -> int:
    """Parse a byte quantity; raises ValueError with the accepted forms."""
    match = _QUANTITY.match(text.strip())
    if not match:
        raise ValueError("expected a byte quantity such as 512Mi, 16Gi or 2G")
    number, unit = match.groups()
    return int(Decimal(number) * _UNITS[unit or ""])  # exact: no float rounding of large values


def format_gib(n_bytes: int) -> str:
    """Round up to the next whole GiB, the granularity used for limits and volumes."""
    return f"{max(1, math.ceil(n_bytes / GIB))}Gi"


def format_mib(n_bytes: int) -> str:
    """Round up to the next whole MiB, for small sizes such as shared memory."""
    return f"{max(1, math.ceil(n_bytes / MIB))}Mi"


def human_gib(n_bytes: int) -> str:
    """Show a size to one decimal in GiB for messages and tables."""
    return f"{n_bytes / GIB:.1f} GiB"
