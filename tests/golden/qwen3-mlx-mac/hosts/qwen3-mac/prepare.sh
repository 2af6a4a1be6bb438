#!/bin/sh
# Download Qwen/Qwen3-1.7B at 70d244cc86ccca08cf5af4e1e306ecf908b1ad5e, convert it with mlx_lm.convert -q --q-bits 4 --q-group-size 64,
# and record beside the weights every output file's sha256 (SHA256SUMS) and, last, the source, revision and
# conversion options (PROVENANCE), in the container targets' format.
set -eu

ROOT=/opt/slm-deploy/qwen3-mac
REPO=Qwen/Qwen3-1.7B
REVISION=70d244cc86ccca08cf5af4e1e306ecf908b1ad5e
MODEL=qwen3-1.7b
SUPPORTED='Klear afm7 afmoe apertus baichuan_m1 bailing_hybrid bailing_moe bailing_moe_linear bailing_moe_v3 bitnet cohere cohere2 dbrx deepseek deepseek_v2 deepseek_v3 deepseek_v32 deepseek_v41 deepseek_v41_text dots1 ernie4_5 ernie4_5_moe exaone exaone4 exaone_moe falcon_h1 falcon_mamba gear gemma gemma2 gemma3 gemma3_text gemma3n gemma4 gemma4_text gemma4_unified glm glm4 glm4_moe glm4_moe_lite glm_moe_dsa gpt2 gpt_bigcode gpt_neox gpt_oss gptj granite granitemoe granitemoehybrid helium hunyuan hunyuan_v1_dense internlm2 internlm3 iquestcoder iquestloopcoder jamba joyai_llm_flash kimi_k2 kimi_k25 kimi_k3 kimi_linear kimi_vl laguna lfm2 lfm2-vl lfm2_moe lille-130m llama llama4 llama4_text llava longcat_flash longcat_flash_ngram mamba mamba2 mellum mimo mimo_v2_flash minicpm minicpm3 minimax minimax_m2 minimax_m3_vl ministral3 mistral mistral3 mistral4 mixtral muse_glimmer muse_spark nanbeige nanochat nemotron nemotron-nas nemotron_h olmo olmo2 olmo3 olmo_hybrid olmoe openelm phi phi-msft phi3 phi3small phimoe phixtral pixtral plamo plamo2 plamo3 prism_hadamard_qwen35 qwen qwen2 qwen2_5_vl qwen2_moe qwen2_vl qwen3 qwen3_5 qwen3_5_moe qwen3_moe qwen3_next qwen3_vl qwen3_vl_moe recurrent_gemma rwkv7 seed_oss smollm3 spark2_5 stablelm starcoder2 step3p5 talkie telechat3 xverse youtu_llm'
VENV="$ROOT/venv/bin"
TARGET="$ROOT/models/$MODEL"
WORK=/opt/slm-deploy/qwen3-mac/models/.prepare
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
umask 077

# Configs, tokenizer and safetensors weights only: never the repository's code or pickled weights.
HF_HUB_DISABLE_TELEMETRY=1
HF_HUB_DISABLE_UPDATE_CHECK=1
export HF_HUB_DISABLE_TELEMETRY HF_HUB_DISABLE_UPDATE_CHECK
"$VENV/hf" download "$REPO" --revision "$REVISION" --local-dir "$WORK/source" --include '*.json' --include '*.jinja' --include '*.model' --include '*.safetensors' --include '*.tiktoken' --include '*.txt' >/dev/null

# The architecture must be one mlx-lm builds, compared as a whole name; the checkpoint's text is never printed.
"$VENV/python" -c 'import json,sys
try:
    config=json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))
except (OSError,ValueError,RecursionError):
    config=None
kind=config.get("model_type") if isinstance(config,dict) else None
sys.exit(0 if isinstance(kind,str) and kind in sys.argv[2].split() else 1)' "$WORK/source/config.json" "$SUPPORTED" || {
    echo 'the downloaded config.json does not parse or names no architecture (model_type) that mlx-lm 0.32.2 has a model class for' >&2
    exit 4
}

# The containers' check: JSON that parses, no code of the checkpoint's own (auto_map), safetensors weights.
"$VENV/python" -c 'import json,pathlib,sys
folder=pathlib.Path(sys.argv[1])
def refuse(reason):
    print(reason,file=sys.stderr)
    sys.exit(4)
def files(pattern):
    return [p for p in sorted(folder.glob(pattern)) if p.is_file() and not p.is_symlink()]
try:
    documents=[json.loads(p.read_bytes().decode('"'"'utf-8'"'"')) for p in files('"'"'*.json'"'"')]
except (ValueError,RecursionError,OSError):
    refuse("a JSON file of the checkpoint (its config or tokenizer files) cannot be read or does not parse as UTF-8 JSON; model preparation needs the checkpoint'"'"'s own valid files")
if any(isinstance(d,dict) and '"'"'auto_map'"'"' in d for d in documents):
    refuse('"'"'the checkpoint names code of its own (auto_map in config.json or tokenizer_config.json), which model preparation never runs; use a checkpoint whose architecture transformers supports'"'"')
if not files('"'"'*.safetensors'"'"'):
    refuse('"'"'the checkpoint has no safetensors weights; model preparation never loads pickled weights (pytorch_model.bin): use a revision that publishes model.safetensors'"'"')' "$WORK/source"

"$VENV/mlx_lm.convert" --hf-path "$WORK/source" --mlx-path "$WORK/model" -q --q-bits 4 --q-group-size 64
rm -rf "$TARGET"
mkdir -p /opt/slm-deploy/qwen3-mac/models
mv /opt/slm-deploy/qwen3-mac/models/.prepare/model /opt/slm-deploy/qwen3-mac/models/qwen3-1.7b
cd /opt/slm-deploy/qwen3-mac/models/qwen3-1.7b
find . -type f -print | LC_ALL=C sort | tr '\n' '\0' | xargs -0 shasum -a 256 > /opt/slm-deploy/qwen3-mac/models/.prepare/SHA256SUMS
mv /opt/slm-deploy/qwen3-mac/models/.prepare/SHA256SUMS SHA256SUMS
printf '%s\n' source=huggingface:Qwen/Qwen3-1.7B revision=70d244cc86ccca08cf5af4e1e306ecf908b1ad5e format=mlx 'options=-q --q-bits 4 --q-group-size 64' mlx-lm=0.32.2 > /opt/slm-deploy/qwen3-mac/models/.prepare/PROVENANCE
mv /opt/slm-deploy/qwen3-mac/models/.prepare/PROVENANCE PROVENANCE

echo "prepared $MODEL from $REPO@$REVISION"
