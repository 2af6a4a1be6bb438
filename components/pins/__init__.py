"""Keep the pins table's digests honest: ask registries what each pinned tag resolves to now."""

from slm_deploy.pins.check import PinStatus, check_pins
from slm_deploy.pins.registry import RegistryClient, RegistryProblem, Resolution
from slm_deploy.pins.table import PinsFileError, PinRow, read_pins, rewrite_digests

__all__ = [
    "PinRow", "PinStatus", "PinsFileError", "RegistryClient", "RegistryProblem", "Resolution",
    "check_pins", "read_pins", "rewrite_digests",
]
