"""The record beside a prepared model and the checks that read it, shared by the renderer and the policy pack.

Standard library only: the policy pack imports it to look for the very words the rendered checks run.
"""

from __future__ import annotations

import shlex

PROVENANCE = "PROVENANCE"
CHECKSUMS = "SHA256SUMS"
CHECKPOINT_FILES = ("*.json", "*.jinja", "*.model", "*.safetensors", "*.tiktoken", "*.txt")
"""What the converters read (configs, tokenizers, weights); never a repository's code or pickled weights."""
CHECKSUM_ENTRY = "[0-9a-f]{64}  \\./"
"""The start of a sha256 line for a file under the model folder (an extended regular expression)."""
CHECKSUM_LINE = f"{CHECKSUM_ENTRY}.+"
"""Every line of the record names one file; a comment or other line is a tampered record."""

NOT_REGULAR_FILES = "\\( ! -type d ! -type f \\) -o -name '*[[:cntrl:]]*'"
"""find's test for what no prepared model holds: links (which the checksum command would follow out of the folder),
devices, fifos and sockets, and names with a control character (a newline splits a name into two lines of the
listing, which would hide a file from the unlisted-file check)."""

PROVENANCE_COMPARED = f"| cmp -s - {PROVENANCE}"
CHECKSUM_LINES_FORMAT = f"grep -qvxE -e {shlex.quote(CHECKSUM_LINE)} {CHECKSUMS}"
CHECKSUMS_VERIFIED = f"--check --strict --quiet {CHECKSUMS}"
UNLISTED_FOUND = "| LC_ALL=C sort | uniq -u | grep -q ."
NOT_REGULAR_FOUND = f"LC_ALL=C find . {NOT_REGULAR_FILES} | grep -q ."
RECORD_CHECKS = {
    "compares its PROVENANCE": PROVENANCE_COMPARED,
    "refuses a malformed SHA256SUMS line": CHECKSUM_LINES_FORMAT,
    "runs sha256 --check --strict on SHA256SUMS": CHECKSUMS_VERIFIED,
    "refuses a file SHA256SUMS does not list": UNLISTED_FOUND,
    "refuses links, devices and names with control characters": NOT_REGULAR_FOUND,
}
"""Each check of the prepared model, as the text check_script runs it, so the policy that looks for them reads the
same words."""
