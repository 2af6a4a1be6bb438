#!/bin/sh
# The server agent: refuse a prepared model whose source, revision or conversion options differ from the record, whose
# files changed since, or whose folder holds a file the record does not list (mlx-lm loads every *.safetensors in
# it); then serve it. The same check as the container targets', with shasum.
set -eu

ROOT=/opt/slm-deploy/qwen3-mac
MODEL=qwen3-1.7b

if [ ! -f /opt/slm-deploy/qwen3-mac/models/qwen3-1.7b/PROVENANCE ]; then echo 'the prepared model is missing from the model volume; run /opt/slm-deploy/qwen3-mac/bin/prepare.sh' >&2; exit 3; fi
cd /opt/slm-deploy/qwen3-mac/models/qwen3-1.7b
if LC_ALL=C find . \( ! -type d ! -type f \) -o -name '*[[:cntrl:]]*' | grep -q .; then echo 'the prepared model folder holds a link, device or other non-regular file, or a name with a newline or other control character; run /opt/slm-deploy/qwen3-mac/bin/prepare.sh' >&2; exit 3; fi
if ! printf '%s\n' source=huggingface:Qwen/Qwen3-1.7B revision=70d244cc86ccca08cf5af4e1e306ecf908b1ad5e format=mlx 'options=-q --q-bits 4 --q-group-size 64' mlx-lm=0.32.2 | cmp -s - PROVENANCE; then echo 'the prepared model in the cache was made from another source, revision or options; run /opt/slm-deploy/qwen3-mac/bin/prepare.sh' >&2; exit 3; fi
if ! grep -qxE -e '[0-9a-f]{64}  \./config\.json' SHA256SUMS || grep -qvxE -e '[0-9a-f]{64}  \./.+' SHA256SUMS || ! shasum -a 256 --check --strict --quiet SHA256SUMS >/dev/null 2>&1; then echo 'a prepared model file does not match the sha256 recorded when it was prepared; run /opt/slm-deploy/qwen3-mac/bin/prepare.sh' >&2; exit 3; fi
if { find . ! -type d ! -path ./SHA256SUMS ! -path ./PROVENANCE; sed -E 's|^[0-9a-f]{64}  \./|./|' SHA256SUMS; } | LC_ALL=C sort | uniq -u | grep -q .; then echo 'the prepared model folder holds a file its record does not list; run /opt/slm-deploy/qwen3-mac/bin/prepare.sh' >&2; exit 3; fi

# The working directory is models/, so the model's name is also the path clients put in `model`.
cd "$ROOT/models"
# No web page may read its answers: no origin is allowed (mlx-lm's default is every origin).
exec "$ROOT/venv/bin/mlx_lm.server" --model "$MODEL" --host 127.0.0.1 --port 8081 --allowed-origins ''
