"""The grammar of an image reference pinned by digest, in the standard library only: the spec, the Pulumi
components and the policy pack (which imports neither pydantic nor the spec) hold references to the same rule."""

from __future__ import annotations

import re

NAME = r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
"""[registry[:port]/]repository, as the distribution spec's reference grammar has it (lowercase)."""
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST = r"sha256:[0-9a-f]{64}"
SHA256_DIGEST = re.compile(f"^{DIGEST}\\Z")
"""A digest alone (a chart value's `digest` field)."""
PINNED_BY_DIGEST = re.compile(f"^{NAME}(?::{TAG})?@{DIGEST}\\Z")
"""A reference that names one immutable image: a name, an optional tag, and the sha256 digest (never the digest
with no name, which no runtime can pull)."""
