"""The egress proxy: the only route out of a model download, and it lets through only the source's host names.

Neither a Compose network nor a Kubernetes NetworkPolicy can filter by host name, so every download step talks to
Squid (Debian's package) and nothing else. Squid accepts only CONNECT to port 443 of the names in
runtimes.egress_allowlist, compares them as written (no reverse lookups, so an address never matches), caches
nothing and logs to stdout. Squid rather than tinyproxy: its `dstdomain` ACLs match exact names, its CONNECT and
port ACLs are first-class, and Debian keeps it under security support.
"""

from __future__ import annotations

from dataclasses import replace

from slm_deploy.runtimes.common import WRITABLE_PATHS, cache_env, pinned, service_labels
from slm_deploy.runtimes.egress_allowlist import allowed_hosts
from slm_deploy.runtimes.plan import ExecCheck, ImageBuild, RuntimePlan, ServicePlan
from slm_deploy.spec.loader import Deployment

PROXY_PORT = 3128
HTTPS_PORT = 443
CONFIG_FILE = "squid.conf"
CONFIG_PATH = f"/etc/squid/{CONFIG_FILE}"
SQUID_PACKAGE = "squid=5.7-2+deb12u5"
"""Debian bookworm's Squid, pinned like every other package the images install."""
LISTENING_CHECK = ("bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{PROXY_PORT}")
"""The proxy is healthy when it accepts connections; the image has no HTTP client, and needs none."""
LOCAL = "localhost,127.0.0.1,::1"
"""Loopback stays direct: the Ollama preparation talks to its own private server there."""


def proxy_name(deployment: Deployment) -> str:
    """<deployment>-egress-proxy: the Compose service and the Kubernetes Deployment and Service."""
    return f"{deployment.spec.name}-egress-proxy"


def is_download(service: ServicePlan) -> bool:
    """A model-preparation step that reaches the network (the conversion step has none)."""
    return service.role == "model-prep" and not service.offline


def squid_config(hosts: tuple[str, ...]) -> str:
    """The whole Squid configuration: CONNECT to 443 of the listed names, everything else refused."""
    names = " \\\n    ".join(hosts)
    return "\n".join([
        "# slm-deploy egress proxy: model downloads reach only these names, over TLS, through CONNECT.",
        f"http_port {PROXY_PORT}",
        f"acl download_hosts dstdomain -n \\\n    {names}",
        f"acl tls_port port {HTTPS_PORT}",
        "acl CONNECT method CONNECT",
        "http_access deny !CONNECT",
        "http_access deny !tls_port",
        "http_access allow download_hosts",
        "http_access deny all",
        "# A tunnel carries TLS end to end: nothing to cache, nothing to rewrite.",
        "cache deny all",
        "cache_mem 0 MB",
        "via off",
        "forwarded_for delete",
        "httpd_suppress_version_string on",
        "# Logs go to the container's output; the root filesystem is read-only.",
        "access_log stdio:/dev/stdout",
        "cache_log stdio:/dev/stderr",
        "cache_store_log none",
        "logfile_rotate 0",
        "pid_filename none",
        "# Non-root, with every capability dropped: no ICMP probes of the destinations.",
        "pinger_enable off",
        "shutdown_lifetime 2 seconds",
        "",
    ])


def proxy_service(deployment: Deployment) -> ServicePlan:
    """Squid on the pinned Debian base with the shared hardening and the allowlist baked into its configuration."""
    build = ImageBuild(template="egress-proxy", base=pinned(deployment, "debian"),
                       context_files=((CONFIG_FILE, squid_config(allowed_hosts(deployment))),),
                       healthcheck=LISTENING_CHECK)
    return ServicePlan(
        name=proxy_name(deployment), role="egress-proxy", runtime="squid", image=None, build=build,
        command=("/usr/sbin/squid",), args=("-N", "-f", CONFIG_PATH), env=tuple(sorted(cache_env().items())),
        port=PROXY_PORT,
        health=ExecCheck(LISTENING_CHECK), readiness=None, metrics_path=None, writable_paths=WRITABLE_PATHS,
        cpu=0.25, memory_bytes=256 * 2**20, startup_budget_seconds=60,
        labels=service_labels(deployment, "egress-proxy", "squid"),
    )


def proxy_env(deployment: Deployment) -> dict[str, str]:
    """What sends a downloader's HTTPS through the proxy: Python's requests and httpx, hf_xet's reqwest, curl and
    Go's net/http all read these (curl and Python prefer the lower-case names, Go takes either)."""
    url = f"http://{proxy_name(deployment)}:{PROXY_PORT}"
    return {"HTTPS_PROXY": url, "https_proxy": url, "NO_PROXY": LOCAL, "no_proxy": LOCAL}


def with_egress_proxy(deployment: Deployment, plan: RuntimePlan) -> RuntimePlan:
    """Route every download step through the proxy and add the proxy, when the plan downloads anything."""
    if not any(is_download(s) for s in plan.services):
        return plan
    routed = proxy_env(deployment)
    clashes = [s.name for s in plan.services if is_download(s) and set(dict(s.env)) & set(routed)]
    if clashes:
        raise ValueError(f"download steps {clashes} already set a proxy variable")
    proxy = proxy_service(deployment)
    services = tuple(replace(s, env=tuple(sorted({**dict(s.env), **routed}.items())),
                             depends_on=(*s.depends_on, proxy.name)) if is_download(s) else s
                     for s in plan.services)
    return RuntimePlan(services=(*services, proxy), hosts=plan.hosts)
