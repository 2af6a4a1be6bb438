#!/bin/sh
set -eu
/bin/ollama pull llama3.2:3b
/bin/ollama create assistant:latest -f /etc/slm/Modelfile
