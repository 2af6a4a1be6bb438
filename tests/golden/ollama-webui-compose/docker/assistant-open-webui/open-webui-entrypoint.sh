#!/bin/sh
# Open WebUI reads these only from its environment; they come from files mounted under /run/secrets.
set -eu
WEBUI_SECRET_KEY="$(cat /run/secrets/webui-secret-key)"
export WEBUI_SECRET_KEY
OPENAI_API_KEY="$(cat /run/secrets/webui-api-key)"
export OPENAI_API_KEY
WEBUI_AUTH=True
export WEBUI_AUTH
cd /app/backend
exec bash start.sh
