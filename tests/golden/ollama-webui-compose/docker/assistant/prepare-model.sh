#!/bin/sh
set -eu
OLLAMA_HOST=127.0.0.1:11434 /bin/ollama serve &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
waited=0
until /bin/ollama list >/dev/null 2>&1; do
  if [ "$waited" -ge 60 ]; then echo 'ollama did not start' >&2; exit 1; fi
  waited=$((waited + 1))
  sleep 1
done
/bin/ollama pull llama3.2:3b
/bin/ollama create assistant:latest -f /etc/slm/Modelfile
/bin/ollama show assistant:latest >/dev/null
