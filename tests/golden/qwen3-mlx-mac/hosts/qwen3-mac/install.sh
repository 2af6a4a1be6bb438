#!/bin/sh
# mlx-lm 0.32.2 for qwen3-mac: serves Qwen3-1.7B on an Apple silicon Mac, with
# mlx_lm.server on 127.0.0.1:8081 and the API-key gateway on 127.0.0.1:8080.
# Run from this folder with sudo, from the account that will run the agents: sudo sh install.sh
set -eu

ROOT=/opt/slm-deploy/qwen3-mac
SERVER_LABEL=io.slm-deploy.qwen3-mac.server
GATEWAY_LABEL=io.slm-deploy.qwen3-mac.gateway
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ] || [ -z "${SUDO_USER:-}" ]; then
    echo "run this script with sudo from the account that will run the agents" >&2
    exit 1
fi
if [ "$(uname -s)" != Darwin ] || [ "$(uname -m)" != arm64 ]; then
    echo "MLX runs on Apple silicon Macs only" >&2
    exit 1
fi
if [ "$(sw_vers -productVersion | cut -d. -f1)" -lt 14 ]; then
    echo "the pinned mlx wheels need macOS 14 or later" >&2
    exit 1
fi
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] not in sys.argv[1:])' 3.11 3.12 3.13 3.14; then
    echo "the locked wheels are for Python 3.11, 3.12, 3.13, 3.14: set PYTHON to one of them" >&2
    exit 1
fi
OWNER_UID=$(id -u "$SUDO_USER")
OWNER_HOME=$(dscl . -read "/Users/$SUDO_USER" NFSHomeDirectory | awk '{print $2}')

# Code and configuration belong to root; only models/, logs/ and secrets/ belong to the serving account.
install -d -o root -g wheel -m 0755 "$ROOT" "$ROOT/bin" "$ROOT/gateway"
install -d -o "$SUDO_USER" -m 0700 "$ROOT/models" "$ROOT/logs" "$ROOT/secrets"
"$PYTHON" -m venv --clear "$ROOT/venv"
# Exactly the locked set: every package at its version, every wheel's sha256 checked, nothing resolved beyond it.
"$ROOT/venv/bin/python" -m pip install --disable-pip-version-check --no-input --require-hashes --no-deps \
    --only-binary=:all: --requirement "$HERE/requirements.txt"
"$ROOT/venv/bin/python" -m pip check
for script in prepare.sh serve.sh; do
    install -o root -g wheel -m 0755 "$HERE/$script" "$ROOT/bin/$script"
done
(cd "$HERE/gateway" && find . -type f | while read -r file; do
    install -d -o root -g wheel -m 0755 "$ROOT/gateway/$(dirname "$file")"
    install -o root -g wheel -m 0644 "$file" "$ROOT/gateway/$file"
done)

if [ ! -s "$ROOT/secrets/api-keys" ]; then
    echo "put the gateway's API keys in $ROOT/secrets/api-keys (owned by $SUDO_USER," \
        "mode 0600), then run this again" >&2
    exit 1
fi

# Download and convert as the serving account; the server agent refuses a model that does not match the record.
sudo -u "$SUDO_USER" /bin/sh "$ROOT/bin/prepare.sh"

AGENTS="$OWNER_HOME/Library/LaunchAgents"
install -d -o "$SUDO_USER" -m 0755 "$AGENTS"
for label in "$SERVER_LABEL" "$GATEWAY_LABEL"; do
    plutil -lint "$HERE/launchd/$label.plist"
    install -o "$SUDO_USER" -m 0644 "$HERE/launchd/$label.plist" "$AGENTS/$label.plist"
    launchctl bootout "gui/$OWNER_UID/$label" 2>/dev/null || true
    launchctl bootstrap "gui/$OWNER_UID" "$AGENTS/$label.plist"
done
echo "OpenAI-compatible endpoint (with an API key): http://127.0.0.1:8080/v1"
