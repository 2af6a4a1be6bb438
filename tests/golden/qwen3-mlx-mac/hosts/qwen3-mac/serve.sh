#!/bin/sh
# The server agent: refuse a prepared model whose revision or files do not match the record, then serve it.
set -eu

ROOT=/opt/slm-deploy/qwen3-mac
REVISION=70d244cc86ccca08cf5af4e1e306ecf908b1ad5e
MODEL=qwen3-1.7b
TARGET="$ROOT/models/$MODEL"

if [ ! -f "$TARGET/.slm-source-revision" ] || [ ! -f "$TARGET/.slm-sha256" ]; then
    echo "$TARGET is not a prepared model: run $ROOT/bin/prepare.sh" >&2
    exit 1
fi
if [ "$(cat "$TARGET/.slm-source-revision")" != "$REVISION" ]; then
    echo "$TARGET was prepared from another revision than $REVISION: run $ROOT/bin/prepare.sh" >&2
    exit 1
fi
if ! (cd "$TARGET" && shasum -a 256 --check --quiet .slm-sha256); then
    echo "$TARGET does not match its recorded sha256 digests: run $ROOT/bin/prepare.sh" >&2
    exit 1
fi

# The working directory is models/, so the model's name is also the path clients put in `model`.
cd "$ROOT/models"
exec "$ROOT/venv/bin/mlx_lm.server" --model "$MODEL" --host 127.0.0.1 --port 8081
