"""The step that turns a pinned Hugging Face checkpoint into the served format, and the check run before serving.

The step downloads the checkpoint's configs, tokenizer and safetensors weights (never its code) into a scratch
folder on the model volume, refuses one whose config names code of its own (auto_map: the converters would run it),
converts it offline and without the hub token (llama.cpp's converter and llama-quantize, or the ONNX Runtime GenAI
model builder), moves the result into place and records beside it
SHA256SUMS (every output file) and, last, PROVENANCE (source, revision, options, converter version). A model volume
that already holds a prepared model is never overwritten: it is checked, and a mismatch is refused. The check is
plain POSIX shell (sh, cmp, grep, sha256sum), so the serving images run it too. No script holds a `$`, which
Compose and Kubernetes would expand.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from slm_deploy.pins.interfaces.llamacpp_source import CMAKE_OPTIONS, build_number, known_source
from slm_deploy.runtimes.common import (
    WRITABLE_PATHS, cache_env, hub_token, pinned, python_venv_env, service_labels,
)
from slm_deploy.runtimes.plan import CACHE_ROOT, MODEL_ROOT, ImageBuild, ServicePlan
from slm_deploy.spec.images import pins_table
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.model_section import GgufPreparation, HuggingFaceSource, OnnxPreparation
from slm_deploy.spec.preparation import onnx_execution_provider

PROVENANCE = "PROVENANCE"
CHECKSUMS = "SHA256SUMS"
LLAMACPP_ROOT = "/opt/llama.cpp"
REQUIREMENTS_FILE = "requirements.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_REQUIREMENT = "torch==2.13.0"
"""Installed first, alone, from the CPU index (or a local wheel folder): PyPI's default build is the CUDA one."""
COMMON_REQUIREMENTS = (
    "huggingface_hub==2.4.0",
    "numpy==2.4.6",
    "safetensors==0.8.0",
    "sentencepiece==0.2.3",
    "tokenizers==0.23.3",
    TORCH_REQUIREMENT,
    "transformers==5.24.0",
)
"""The checkpoint readers both converters import."""
LLAMACPP_CMAKE = tuple(option for option in CMAKE_OPTIONS if "-O0" not in option)
"""The test build's options without its -O0, which only shortens CI's compile."""
FORMAT_REQUIREMENTS = {
    "gguf": ("protobuf==5.29.6",),
    "onnx": ("onnx==1.22.0", "onnx-ir==1.1.0", "onnxruntime==1.32.0", "onnxruntime-genai==0.18.0"),
}
TOOLS_IMPORT = ("python3", "-c", "import huggingface_hub, torch, transformers")
"""The image's healthcheck: the converters' libraries import (Compose and Kubernetes run the step, never probe it)."""
SNAPSHOT = ("python3 -c 'import sys;from huggingface_hub import snapshot_download;"
            "snapshot_download(sys.argv[1],revision=sys.argv[2],local_dir=sys.argv[3],allow_patterns=sys.argv[4:])'")
CHECKPOINT_FILES = ("*.json", "*.jinja", "*.model", "*.safetensors", "*.tiktoken", "*.txt")
"""What the converters read (configs, tokenizers, weights); never a repository's code or pickled weights."""
NAMES_NO_CODE = ("python3 -c 'import json,pathlib,sys;sys.exit(any(isinstance(d,dict) and \"auto_map\" in d "
                 "for d in (json.loads(p.read_text()) for p in pathlib.Path(sys.argv[1]).glob(\"*.json\"))))'")
"""Fails when a checkpoint's config names its own code (auto_map), which the converters would import and run."""
OFFLINE = "HF_HUB_OFFLINE=1"
"""The converters run after the download, without the token and without the network to the hub."""
REMOTE_CODE = ("the checkpoint names code of its own (auto_map in config.json or tokenizer_config.json), which "
               "model preparation never runs; use a checkpoint whose architecture transformers supports")
MISSING = "the prepared model is missing from the model volume; prepare it again"
NOT_PREPARED_AS_ASKED = ("the prepared model in the cache was made from another source, revision or options; "
                         "empty the model volume to prepare it again")
CHECKSUM_ENTRY = "[0-9a-f]{64}  \\./"
"""The start of a sha256sum line for a file under the model folder (an extended regular expression)."""
CHECKSUM_LINE = f"{CHECKSUM_ENTRY}.+"
"""Every line of the record names one file; a comment or other line is a tampered record."""
CORRUPTED = "a prepared model file does not match the sha256 recorded when it was prepared; empty the model volume"


@dataclass(frozen=True)
class PreparedModel:
    """Where the prepared model lands, the file the server opens, and what its provenance must read."""

    directory: str
    entry_file: str
    """The file the server loads (the GGUF) or that marks a complete folder (genai_config.json)."""
    provenance: tuple[str, ...]

    @property
    def scratch(self) -> str:
        """Beside the model on its volume: large enough for the checkpoint, and the final move is a rename."""
        return f"{self.directory.rsplit('/', 1)[0]}/.prepare"

    @property
    def checkpoint(self) -> str:
        """Where the Hugging Face snapshot is downloaded."""
        return f"{self.scratch}/checkpoint"


def llamacpp_build_number() -> int:
    """The llama.cpp build of the pinned serving image, which the converter and llama-quantize come from."""
    return build_number(pins_table()["llamacpp"].image.tag)


def prepared_model(deployment: Deployment, directory: str) -> PreparedModel:
    """What the step writes for this spec; every option that shapes the output is part of its provenance."""
    source, prepare = deployment.model.source, deployment.model.prepare
    if not isinstance(source, HuggingFaceSource) or prepare is None:
        raise TypeError("only a Hugging Face source with model.prepare is prepared")
    records = [f"source=huggingface:{source.repo}", f"revision={source.revision}", f"format={prepare.format}"]
    if isinstance(prepare, GgufPreparation):
        records += [f"quantization={prepare.quantization}", f"llama.cpp=b{llamacpp_build_number()}"]
        entry = f"{deployment.model.id}-{prepare.quantization}.gguf"
    else:
        records += [f"precision={prepare.precision}",
                    f"execution_provider={onnx_execution_provider(prepare, deployment.spec)}",
                    "onnxruntime-genai=" + FORMAT_REQUIREMENTS["onnx"][-1].split("==")[1]]
        entry = "genai_config.json"
    return PreparedModel(directory, entry, tuple(records))


def _literal(text: str) -> str:
    """The text as an extended regular expression matching only itself."""
    return re.sub(r"([][\\.()*+?{}|^$])", r"\\\1", text)


def check_script(model: PreparedModel) -> str:
    """Refuse a prepared model whose provenance differs from the spec's or whose files changed since."""
    where = shlex.quote(model.directory)
    expected = " ".join(shlex.quote(line) for line in model.provenance)
    listed = shlex.quote(f"{CHECKSUM_ENTRY}{_literal(model.entry_file)}")
    return "\n".join([
        f"if [ ! -f {where}/{PROVENANCE} ]; then echo {shlex.quote(MISSING)} >&2; exit 3; fi",
        f"cd {where}",
        f"if ! printf '%s\\n' {expected} | cmp -s - {PROVENANCE}; then echo {shlex.quote(NOT_PREPARED_AS_ASKED)} >&2; "
        "exit 3; fi",
        f"if ! grep -qxE -e {listed} {CHECKSUMS} || grep -qvxE -e {shlex.quote(CHECKSUM_LINE)} {CHECKSUMS} || ! sha256sum --check --strict --quiet {CHECKSUMS} >/dev/null 2>&1; "
        f"then echo {shlex.quote(CORRUPTED)} >&2; exit 3; fi",
    ])


def _convert_gguf(prepare: GgufPreparation, model: PreparedModel, output: str) -> list[str]:
    """The source's converter writes f16 or bf16; llama-quantize makes the smaller types from f16."""
    if prepare.quantization in ("f16", "bf16"):
        return [f"{OFFLINE} python3 {LLAMACPP_ROOT}/convert_hf_to_gguf.py {model.checkpoint} "
                f"--outfile {shlex.quote(output)} --outtype {prepare.quantization}"]
    f16 = f"{model.scratch}/model-f16.gguf"
    return [f"{OFFLINE} python3 {LLAMACPP_ROOT}/convert_hf_to_gguf.py {model.checkpoint} --outfile {f16} --outtype f16",
            f"{LLAMACPP_ROOT}/llama-quantize {f16} {shlex.quote(output)} {prepare.quantization.upper()}"]


def _convert_onnx(prepare: OnnxPreparation, provider: str, model: PreparedModel, output: str) -> list[str]:
    """The model builder with the spec's precision and provider, caching into the scratch folder."""
    return [f"{OFFLINE} python3 -m onnxruntime_genai.models.builder -i {model.checkpoint} -o {shlex.quote(output)} "
            f"-p {prepare.precision} -e {provider} -c {model.scratch}/builder-cache"]


def record_script(model: PreparedModel, staging: str) -> str:
    """Move the converted files in, then write their checksums and, last, the provenance."""
    where, scratch = shlex.quote(model.directory), shlex.quote(model.scratch)
    return "\n".join([
        f"mkdir -p {shlex.quote(model.directory.rsplit('/', 1)[0])}",
        f"mv {shlex.quote(staging)} {where}",
        f"cd {where}",
        f"find . -type f -print | LC_ALL=C sort | xargs sha256sum > {scratch}/{CHECKSUMS}",
        f"mv {scratch}/{CHECKSUMS} {CHECKSUMS}",
        f"printf '%s\\n' {' '.join(shlex.quote(line) for line in model.provenance)} > {scratch}/{PROVENANCE}",
        f"mv {scratch}/{PROVENANCE} {PROVENANCE}",
    ])


def prepare_script(deployment: Deployment, model: PreparedModel, token_file: str | None) -> str:
    """Check a prepared model if there is one; otherwise download, convert, move it in and record it, the
    provenance last, so an interrupted step leaves no record and the next run prepares again."""
    source, prepare = deployment.model.source, deployment.model.prepare
    assert isinstance(source, HuggingFaceSource) and prepare is not None
    where, scratch = shlex.quote(model.directory), shlex.quote(model.scratch)
    staging = f"{model.scratch}/output"
    output = f"{staging}/{model.entry_file}" if isinstance(prepare, GgufPreparation) else staging
    convert = (_convert_gguf(prepare, model, output) if isinstance(prepare, GgufPreparation)
               else _convert_onnx(prepare, onnx_execution_provider(prepare, deployment.spec), model, output))
    token = f"HF_TOKEN_PATH={shlex.quote(token_file)} " if token_file else ""
    patterns = " ".join(shlex.quote(pattern) for pattern in CHECKPOINT_FILES)
    return "\n".join([
        "set -eu",
        f"if [ -f {where}/{PROVENANCE} ]; then",
        check_script(model),
        "exit 0",
        "fi",
        f"rm -rf {scratch} {where}",
        f"mkdir -p {shlex.quote(staging)}",
        f"{token}{SNAPSHOT} {shlex.quote(source.repo)} {source.revision} {shlex.quote(model.checkpoint)} {patterns}",
        f"if ! {NAMES_NO_CODE} {shlex.quote(model.checkpoint)}; then echo {shlex.quote(REMOTE_CODE)} >&2; exit 4; fi",
        *convert,
        record_script(model, staging),
        f"rm -rf {scratch}",
    ])


def requirements(prepare: GgufPreparation | OnnxPreparation) -> tuple[str, ...]:
    """The pinned Python packages of the preparation image for one format."""
    return tuple(sorted(COMMON_REQUIREMENTS + FORMAT_REQUIREMENTS[prepare.format], key=str.lower))


def prep_build(deployment: Deployment) -> ImageBuild:
    """The preparation image: the pinned Python base with the converter's packages (and llama.cpp's tools)."""
    prepare = deployment.model.prepare
    assert prepare is not None
    packages = requirements(prepare)
    text = "# Model preparation; torch is the CPU build (TORCH_INDEX).\n" + "\n".join(packages) + "\n"
    return ImageBuild(template=f"model-prep-{prepare.format}", base=pinned(deployment, "python"),
                      context_files=((REQUIREMENTS_FILE, text),), packages=packages, healthcheck=TOOLS_IMPORT)


def preparation_memory(deployment: Deployment) -> int:
    """The converters hold the 16-bit weights and write the output beside them: twice the f16 size, plus 1 GiB."""
    return int(deployment.model.parameters_billion * 1e9 * 2 * 2) + 2**30


def preparation_service(deployment: Deployment, model: PreparedModel) -> ServicePlan:
    """The one-shot step; it reaches only the hub, reads the token as a file and writes the model volume."""
    secrets, _ = hub_token(deployment, env=None)
    script = prepare_script(deployment, model, secrets[0].path if secrets else None)
    # llama.cpp's converter imports the gguf-py package beside it by itself (unless NO_LOCAL_GGUF is set)
    env = {**cache_env(), **python_venv_env(), "HF_HOME": f"{CACHE_ROOT}/huggingface", "HF_HUB_DISABLE_TELEMETRY": "1"}
    return ServicePlan(
        name=f"{deployment.spec.name}-model-prep", role="model-prep", runtime=deployment.spec.runtime.kind,
        image=None, build=prep_build(deployment), command=("/bin/sh", "-c"), args=(script,),
        env=tuple(sorted(env.items())), port=None, health=None, readiness=None, metrics_path=None,
        writable_paths=WRITABLE_PATHS + (MODEL_ROOT,), secret_files=secrets, cpu=max(1.0, deployment.spec.resources.cpu),
        memory_bytes=preparation_memory(deployment), model_dir=MODEL_ROOT, one_shot=True, labels=service_labels(deployment, "model-prep"),
    )


def llamacpp_source() -> tuple[str, str]:
    """The pinned llama.cpp source archive of the serving image's build: its URL and sha256."""
    source = known_source(llamacpp_build_number())
    return source.sdist_url, source.sdist_sha256
