#!/bin/sh
# The server agent: refuse a prepared model whose revision, conversion or files do not match the record, then
# serve it.
set -eu

ROOT=/opt/slm-deploy/qwen3-mac
REVISION=70d244cc86ccca08cf5af4e1e306ecf908b1ad5e
CONVERSION='mlx-lm 0.32.2 -q --q-bits 4 --q-group-size 64'
MODEL=qwen3-1.7b
TARGET="$ROOT/models/$MODEL"

if [ ! -f "$TARGET/.slm-source-revision" ] || [ ! -f "$TARGET/.slm-conversion" ] || [ ! -f "$TARGET/.slm-sha256" ]; then
    echo "$TARGET is not a prepared model: run $ROOT/bin/prepare.sh" >&2
    exit 1
fi
if [ "$(cat "$TARGET/.slm-source-revision")" != "$REVISION" ]; then
    echo "$TARGET was prepared from another revision than $REVISION: run $ROOT/bin/prepare.sh" >&2
    exit 1
fi
if [ "$(cat "$TARGET/.slm-conversion")" != "$CONVERSION" ]; then
    echo "$TARGET was converted with other options than $CONVERSION: run $ROOT/bin/prepare.sh" >&2
    exit 1
fi
# mlx-lm loads every *.safetensors in the folder, so a file the record does not list is refused too.
RECORDED=$(cut -c 67- "$TARGET/.slm-sha256")
PRESENT=$(cd "$TARGET" && find . ! -type d ! -path ./.slm-sha256 | LC_ALL=C sort)
if [ "$PRESENT" != "$RECORDED" ]; then
    echo "$TARGET holds files its record does not list, or lacks some it does: run $ROOT/bin/prepare.sh" >&2
    exit 1
fi
if ! (cd "$TARGET" && shasum -a 256 --check --quiet .slm-sha256); then
    echo "$TARGET does not match its recorded sha256 digests: run $ROOT/bin/prepare.sh" >&2
    exit 1
fi

# The working directory is models/, so the model's name is also the path clients put in `model`.
cd "$ROOT/models"
# No web page may read its answers: no origin is allowed (mlx-lm's default is every origin).
exec "$ROOT/venv/bin/mlx_lm.server" --model "$MODEL" --host 127.0.0.1 --port 8081 --allowed-origins ''
