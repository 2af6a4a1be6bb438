"""Compare every pin with what its registry serves now, and compute the digests an update would write."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from slm_deploy.pins.registry import RegistryClient, RegistryProblem
from slm_deploy.pins.table import PinRow


@dataclass(frozen=True)
class PinStatus:
    """One pin's verdict: ok (tag still serves the digest), drift (it moved) or error (unknown / unusable)."""

    row: PinRow
    state: str
    current: str | None = None
    detail: str = ""

    @property
    def update_to(self) -> str | None:
        """The digest to pin when the tag moved to a usable image (an index must list at least one platform)."""
        return self.current if self.state == "drift" else None


def check_pins(rows: Iterable[PinRow], client: RegistryClient) -> list[PinStatus]:
    """Resolve every pinned tag; problems with one registry never hide the verdicts of the others."""
    statuses = []
    for row in rows:
        try:
            resolution = client.resolve(row.image, row.tag)
        except RegistryProblem as problem:
            statuses.append(PinStatus(row, "error", detail=str(problem)))
            continue
        if resolution.is_index and not resolution.platforms:
            statuses.append(PinStatus(row, "error", resolution.digest,
                                      "the tag now resolves to an index with zero platforms; refusing it"))
        elif resolution.digest == row.digest:
            statuses.append(PinStatus(row, "ok", resolution.digest))
        else:
            statuses.append(PinStatus(row, "drift", resolution.digest,
                                      f"{len(resolution.platforms)} platform(s)" if resolution.is_index else "single image"))
    return statuses
