"""Grafana provisioning for the Compose stack: the Prometheus and Loki data sources and the dashboard folder."""

from __future__ import annotations

import configparser
import io
from typing import Any

from slm_deploy.runtimes.monitoring import GRAFANA_PORT, LOKI_PORT, PROMETHEUS_PORT

DASHBOARDS_PATH = "/etc/grafana/dashboards"


def datasources(prometheus_host: str, loki_host: str | None) -> dict[str, Any]:
    """provisioning/datasources: Prometheus (the default, uid `prometheus`) and Loki when logs are collected."""
    sources = [{"name": "Prometheus", "type": "prometheus", "uid": "prometheus", "access": "proxy",
                "url": f"http://{prometheus_host}:{PROMETHEUS_PORT}", "isDefault": True, "editable": False}]
    if loki_host:
        sources.append({"name": "Loki", "type": "loki", "uid": "loki", "access": "proxy",
                        "url": f"http://{loki_host}:{LOKI_PORT}", "editable": False})
    return {"apiVersion": 1, "datasources": sources}


def dashboard_provider() -> dict[str, Any]:
    """provisioning/dashboards: load the rendered dashboards read-only from their mounted folder."""
    return {"apiVersion": 1, "providers": [{
        "name": "slm-deploy", "folder": "slm-deploy", "type": "file", "disableDeletion": True,
        "allowUiUpdates": False, "updateIntervalSeconds": 60, "options": {"path": DASHBOARDS_PATH}}]}


def grafana_ini(admin_password_file: str) -> str:
    """grafana.ini: the admin password read from its secret file ($__file), no anonymous access, no sign-up,
    nothing phoned home; written with configparser so the file is data, not a template."""
    settings = {
        "paths": {"data": "/var/lib/grafana", "provisioning": "/etc/grafana/provisioning"},
        "server": {"http_port": str(GRAFANA_PORT)},
        "security": {"admin_user": "admin", "admin_password": f"$__file{{{admin_password_file}}}",
                     "cookie_secure": "false", "disable_gravatar": "true"},
        "users": {"allow_sign_up": "false", "allow_org_create": "false"},
        "auth.anonymous": {"enabled": "false"},
        "analytics": {"reporting_enabled": "false", "check_for_updates": "false",
                      "check_for_plugin_updates": "false"},
        "plugins": {"preinstall_disabled": "true"},
        "log": {"mode": "console"},
    }
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_dict(settings)
    out = io.StringIO()
    parser.write(out)
    return "; Rendered by slm-deploy.\n" + out.getvalue().rstrip("\n") + "\n"
