"""Environment variables a model server must not be given from outside: one table, read by the spec's
validation of `runtime.env` and by the serving rules that judge a rendered launch.

A variable is refused when it is another spelling of a command-line flag (llama.cpp reads every flag
from LLAMA_ARG_*, which would bypass the extra_args allow-list), when it changes what the process loads
or where it connects (loader, interpreter, proxies, hub endpoints), when it points the server at files
(the root file system is read-only; slm-deploy sets the writable paths), or when slm-deploy sets it from
a typed field of the spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRUST_REMOTE_CODE_ENV = "VLLM_TRUST_REMOTE_CODE"
"""vLLM's environment spelling of --trust-remote-code."""
SLOTS_ENV = "LLAMA_ARG_ENDPOINT_SLOTS"
NO_SLOTS_ENV = "LLAMA_ARG_NO_ENDPOINT_SLOTS"
METRICS_ENV = "LLAMA_ARG_ENDPOINT_METRICS"
"""llama.cpp's environment spellings of --slots, --no-slots and --metrics."""

FLAG_PREFIXES = {"llamacpp": "LLAMA_ARG_"}
"""Runtimes that read their command-line flags from variables with this prefix."""


@dataclass(frozen=True)
class EnvClass:
    """A class of refused names: what matches it and why it is refused."""

    pattern: re.Pattern[str]
    reason: str


LOADER = EnvClass(
    re.compile(r"^(LD_|DYLD_|PYTHON|PERL|RUBY|NODE_|GCONV_|MALLOC_|GLIBC_|BASH_ENV$|ENV$|IFS$|SHELL$|PATH$|"
               r"USER$|LOGNAME$|OPENSSL_|SSL_CERT_|REQUESTS_CA_BUNDLE$|CURL_CA_BUNDLE$)"),
    "changes what the process loads, trusts or runs as (loader, interpreter, user or CA variables)")
NETWORK = EnvClass(
    re.compile(r"(PROXY$|_ENDPOINT|_URL$|_HOST$|_HOST_IP$|_IP$|_ADDRESS$|_ORIGINS$|_PORT$|^HF_HUB_OFFLINE$|"
               r"^TRANSFORMERS_OFFLINE$|_PLUGINS$|MODELSCOPE)"),
    "changes where the server listens or connects (hosts, ports, proxies, hub endpoints, plugins)")
FILES = EnvClass(
    re.compile(r"(^HOME$|^XDG_|^TMPDIR$|_HOME$|_CACHE|_DIR$|_ROOT$|_PATH$|_FILE$|_MODELS$|_NOPRUNE$)"),
    "points the server at files; slm-deploy sets the writable cache paths itself (the root file system is "
    "read-only)")
UNSAFE = EnvClass(
    re.compile(r"(TRUST_REMOTE_CODE|^VLLM_ALLOW_|INSECURE|_DEV_MODE$|DEBUG_LOG|LOG_REQUESTS|LOG_API_SERVER|"
               r"^VLLM_SERVER_DEV|NO_USAGE_STATS|DO_NOT_TRACK|TELEMETRY|USAGE_STATS|^SLM_)"),
    "weakens the deployment or is set by slm-deploy (remote code, runtime updates, request logging, "
    "telemetry, this project's own server settings)")
OWNED = {
    "ollama": EnvClass(re.compile(r"^OLLAMA_(KEEP_ALIVE|NUM_PARALLEL|MAX_LOADED_MODELS|MAX_QUEUE|CONTEXT_LENGTH|"
                                  r"FLASH_ATTENTION|KV_CACHE_TYPE|AUTH)$"),
                       "is set from the spec (runtime.keep_alive, runtime.max_loaded_models, runtime.flash_attention, "
                       "runtime.kv_cache_type, model.context_length, serving.concurrency)"),
}
"""Per runtime: variables slm-deploy derives from typed fields."""
CLASSES = (LOADER, NETWORK, FILES, UNSAFE)


def refusal(runtime: str, name: str) -> str | None:
    """Why `runtime` must not be given the variable `name`, or None when it may."""
    prefix = FLAG_PREFIXES.get(runtime)
    if prefix and name.startswith(prefix):
        return "is the environment spelling of a command-line flag; pass flags through runtime.extra_args"
    owned = OWNED.get(runtime)
    for env_class in ((owned,) if owned else ()) + CLASSES:
        if env_class.pattern.search(name):
            return env_class.reason
    return None
