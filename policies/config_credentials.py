"""Credentials written into the text of known config files (INI and YAML) instead of read from a secret file."""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

INI_SECRET_KEYS = frozenset({"password", "admin_password", "secret_key", "client_secret", "api_key", "token",
                             "basic_auth_password", "auth_password"})
"""grafana.ini (and other INI) keys whose value is a credential."""
INI_FILE_VALUE = re.compile(r"^\$__file\{[^}]+\}$")
"""Grafana's indirection: the value is read from a file at start-up."""
YAML_SECRET_KEYS = frozenset({"password", "credentials", "bearer_token", "api_url", "api_key", "auth_password",
                              "auth_secret", "auth_token", "client_secret", "routing_key", "service_key",
                              "secret_key", "bot_token", "token", "user_key", "webhook_url"})
"""Prometheus and Alertmanager keys whose value is a credential; each has a *_file form that reads it from disk."""
SECRET_URL = re.compile(r"hooks\.slack\.com|discord(?:app)?\.com/api/webhooks|webhook\.office\.com|"
                        r"//[^/@\s]+:[^/@\s]+@", re.IGNORECASE)
"""URLs whose text is the credential: chat webhooks, or user:password@ in the authority."""


def parse_ini(text: str) -> configparser.RawConfigParser | None:
    """An INI file (grafana.ini) as read without interpolation; None when it is not INI."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser


def _ini(text: str) -> Iterator[str]:
    """Credential keys of an INI file with a literal value (not empty, not $__file{...})."""
    parser = parse_ini(text)
    if parser is None:
        yield "is not INI the pack can read, so its credentials cannot be judged"
        return
    for section in parser.sections():
        for key, value in parser.items(section):
            value = value.strip()
            if key in INI_SECRET_KEYS and value and not INI_FILE_VALUE.match(value):
                yield f"[{section}] {key} holds a literal credential; read it with $__file{{...}}"


def _walk(node: Any, where: str) -> Iterator[str]:
    """Credential keys anywhere in a YAML document with a literal value."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(value, str) and value.strip() and key in YAML_SECRET_KEYS:
                yield f"{path} holds a literal credential; use {key}_file"
            elif isinstance(value, str) and SECRET_URL.search(value):
                yield f"{path} is a URL that carries a credential; use its *_file form"
            else:
                yield from _walk(value, path)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{where}[{index}]")


def _yaml(text: str) -> Iterator[str]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        yield "is not YAML the pack can read, so its credentials cannot be judged"
        return
    for document in documents:
        yield from _walk(document, "")


def literal_credentials(name: str, text: str) -> Iterator[str]:
    """Why a config file's text carries a credential, judged by its name's suffix (.ini, .yml, .yaml)."""
    if name.endswith(".ini"):
        yield from _ini(text)
    elif name.endswith((".yml", ".yaml")):
        yield from _yaml(text)
