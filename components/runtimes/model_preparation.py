"""The step that turns a pinned Hugging Face checkpoint into the served format, and the check run before serving.

Two steps share the model volume. The download step, the only one holding the hub token and a route to the hub,
fetches the checkpoint's configs, tokenizer and safetensors weights (never its code) into a scratch folder. The
conversion step, with neither token nor network, refuses a checkpoint whose JSON does not parse, whose config names
code of its own (auto_map: the converters would run it) or that has no safetensors weights, converts it (llama.cpp's
converter and llama-quantize, or the ONNX Runtime GenAI model builder, capped at the spec's context), moves the result
into place and records beside it SHA256SUMS (every output file) and, last, PROVENANCE (source, revision, options,
converter version). A model volume that already holds a prepared model is never overwritten: it is checked, and a
mismatch is refused. The record and the check are plain POSIX shell (sh, cmp, grep, sort, uniq and a sha256 command),
so the serving images and the MLX host run the same ones. No script holds a `$`, which Compose and Kubernetes would
expand.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib import resources
from typing import Any

from slm_deploy.pins.interfaces.llamacpp_source import CMAKE_OPTIONS, build_number, known_source
from slm_deploy.runtimes.common import (
    WRITABLE_PATHS, cache_env, hub_token, pinned, python_venv_env, service_labels,
)
from slm_deploy.runtimes.plan import CACHE_ROOT, MODEL_ROOT, ImageBuild, ServicePlan
from slm_deploy.spec.images import pins_table
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.model_records import (
    CHECKPOINT_FILES, CHECKSUM_ENTRY, CHECKSUM_LINES_FORMAT, CHECKSUMS, CHECKSUMS_VERIFIED, NOT_REGULAR_FOUND,
    PROVENANCE, PROVENANCE_COMPARED, UNLISTED_FOUND,
)
from slm_deploy.spec.model_section import GgufPreparation, HuggingFaceSource, OnnxPreparation
from slm_deploy.spec.preparation import onnx_execution_provider

SHA256SUM = "sha256sum"
"""The sha256 command of the Linux images (GNU coreutils); macOS has `shasum -a 256`, which writes the same lines."""
LLAMACPP_ROOT = "/opt/llama.cpp"
REQUIREMENTS_FILE = "requirements.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_LOCK = "torch-cpu.txt"
"""Beside this module, under LOCKS: CPU torch at one version with the sha256 of each wheel the images may take,
installed first, alone, from the CPU index (or a local wheel folder): PyPI's default build is the CUDA one. Both
images share this one layer. llama.cpp's converter pins torch==2.11.0, a bump "for compatibility" over the 2.6 its
own comment says Embedding Gemma needs; 2.13.0 meets that need, and it is the converter's one requirement the GGUF
image does not follow (its lock header says so; the lock test allows that deviation alone)."""
TORCH_REQUIREMENTS_FILE = "torch-requirements.txt"
"""The torch lock's name in the image's build context."""
LOCKS = "locks"
"""Beside this module: model-prep-<format>.txt, every other package of the image at one version and wheel hash."""
LLAMACPP_CMAKE = tuple(option for option in CMAKE_OPTIONS if "-O0" not in option)
"""The test build's options without its -O0, which only shortens CI's compile."""
TOOLS_IMPORT = ("python3", "-c", "import huggingface_hub, torch, transformers")
"""The image's healthcheck: the converters' libraries import (Compose and Kubernetes run the step, never probe it)."""
SNAPSHOT = ("python3 -c 'import sys;from huggingface_hub import snapshot_download;"
            "snapshot_download(sys.argv[1],revision=sys.argv[2],local_dir=sys.argv[3],allow_patterns=sys.argv[4:])'")
NOT_JSON = ("a JSON file of the checkpoint (its config or tokenizer files) cannot be read or does not parse as UTF-8 "
            "JSON; "
            "model preparation needs the checkpoint's own valid files")
REMOTE_CODE = ("the checkpoint names code of its own (auto_map in config.json or tokenizer_config.json), which "
               "model preparation never runs; use a checkpoint whose architecture transformers supports")
NO_SAFETENSORS = ("the checkpoint has no safetensors weights; model preparation never loads pickled weights "
                  "(pytorch_model.bin): use a revision that publishes model.safetensors")
CHECKPOINT_REFUSED = 4
"""The conversion step's exit code for a checkpoint it will not convert."""
CHECKPOINT_CHECK_CODE = "\n".join([
    "import json,pathlib,sys",
    "folder=pathlib.Path(sys.argv[1])",
    "def refuse(reason):",
    "    print(reason,file=sys.stderr)",
    f"    sys.exit({CHECKPOINT_REFUSED})",
    "def files(pattern):",
    "    return [p for p in sorted(folder.glob(pattern)) if p.is_file() and not p.is_symlink()]",
    "try:",
    "    documents=[json.loads(p.read_bytes().decode('utf-8')) for p in files('*.json')]",
    "except (ValueError,RecursionError,OSError):",
    f"    refuse({NOT_JSON!r})",
    "if any(isinstance(d,dict) and 'auto_map' in d for d in documents):",
    f"    refuse({REMOTE_CODE!r})",
    "if not files('*.safetensors'):",
    f"    refuse({NO_SAFETENSORS!r})",
])
CHECKPOINT_CHECK = "python3 -c " + shlex.quote(CHECKPOINT_CHECK_CODE)
"""Refuses, before any converter runs, a checkpoint whose JSON (regular files only, never a folder or link named *.json)
cannot be read or does not parse (UnicodeDecodeError is a ValueError;
nesting deeper than Python's recursion limit is a RecursionError), whose config names its own code (the converters
would import and run it), or that has no safetensors weights."""
OFFLINE = {"HF_HUB_OFFLINE": "1"}
"""The conversion step runs without the token and without a network, and the hub client is told so."""
ONLINE = {"HF_HUB_OFFLINE": "0"}
"""The download step shares the conversion step's image, whose environment holds OFFLINE: it must say otherwise."""
NOT_DOWNLOADED = "the checkpoint was not downloaded into the model volume; run the download step first"
MISSING = "the prepared model is missing from the model volume"
NOT_PREPARED_AS_ASKED = "the prepared model in the cache was made from another source, revision or options"
CORRUPTED = "a prepared model file does not match the sha256 recorded when it was prepared"
UNLISTED = "the prepared model folder holds a file its record does not list"
NOT_REGULAR = ("the prepared model folder holds a link, device or other non-regular file, or a name with a newline or "
               "other control character")
CONTAINER_REMEDY = "empty the model volume to prepare it again"
MODEL_REFUSED = 3
"""The check's exit code for a prepared model that must not be served."""


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
                    f"context_length={deployment.model.context_length}",
                    "onnxruntime-genai=" + locked_versions("onnx")["onnxruntime-genai"]]
        entry = "genai_config.json"
    return PreparedModel(directory, entry, tuple(records))


def _literal(text: str) -> str:
    """The text as an extended regular expression matching only itself."""
    return re.sub(r"([][\\.()*+?{}|^$])", r"\\\1", text)


def _refuse(reason: str, remedy: str) -> str:
    """Say why the model is refused and what to do, and stop with the refusal's exit code."""
    return f"echo {shlex.quote(f'{reason}; {remedy}')} >&2; exit {MODEL_REFUSED}"






def check_script(model: PreparedModel, *, sha256: str = SHA256SUM, remedy: str = CONTAINER_REMEDY) -> str:
    """Refuse a prepared model whose folder holds anything but plain files with plain names, whose provenance differs
    from the spec's, whose files changed since, or whose folder holds a file the record does not list (a runtime may
    load every weight file it finds)."""
    where = shlex.quote(model.directory)
    expected = " ".join(shlex.quote(line) for line in model.provenance)
    listed = shlex.quote(f"{CHECKSUM_ENTRY}{_literal(model.entry_file)}")
    names = shlex.quote(f"s|^{CHECKSUM_ENTRY}|./|")
    return "\n".join([
        f"if [ ! -f {where}/{PROVENANCE} ]; then {_refuse(MISSING, remedy)}; fi",
        f"cd {where}",
        f"if {NOT_REGULAR_FOUND}; then {_refuse(NOT_REGULAR, remedy)}; fi",
        f"if ! printf '%s\\n' {expected} {PROVENANCE_COMPARED}; then {_refuse(NOT_PREPARED_AS_ASKED, remedy)}; fi",
        f"if ! grep -qxE -e {listed} {CHECKSUMS} || {CHECKSUM_LINES_FORMAT} "
        f"|| ! {sha256} {CHECKSUMS_VERIFIED} >/dev/null 2>&1; then {_refuse(CORRUPTED, remedy)}; fi",
        f"if {{ find . ! -type d ! -path ./{CHECKSUMS} ! -path ./{PROVENANCE}; sed -E {names} {CHECKSUMS}; }} "
        f"{UNLISTED_FOUND}; then {_refuse(UNLISTED, remedy)}; fi",
    ])


def _convert_gguf(prepare: GgufPreparation, model: PreparedModel, output: str) -> list[str]:
    """The source's converter writes f16 or bf16; llama-quantize makes the smaller types from f16."""
    if prepare.quantization in ("f16", "bf16"):
        return [f"python3 {LLAMACPP_ROOT}/convert_hf_to_gguf.py {model.checkpoint} "
                f"--outfile {shlex.quote(output)} --outtype {prepare.quantization}"]
    f16 = f"{model.scratch}/model-f16.gguf"
    return [f"python3 {LLAMACPP_ROOT}/convert_hf_to_gguf.py {model.checkpoint} --outfile {f16} --outtype f16",
            f"{LLAMACPP_ROOT}/llama-quantize {f16} {shlex.quote(output)} {prepare.quantization.upper()}"]


CONTEXT_CAP = ("python3 -c 'import json,sys;path,cap=sys.argv[1],int(sys.argv[2]);"
               "config=json.load(open(path,encoding=\"utf-8\"));"
               "config[\"model\"][\"context_length\"]=min(config[\"model\"][\"context_length\"],cap);"
               "config[\"search\"][\"max_length\"]=min(config[\"search\"][\"max_length\"],cap);"
               "open(path,\"w\",encoding=\"utf-8\").write(json.dumps(config,indent=4)+chr(10))'")
"""The builder sizes the model's context (and the KV cache ONNX Runtime GenAI allocates) from the checkpoint's
max_position_embeddings and has no option for it: its genai_config.json is capped at the spec's context."""


def _convert_onnx(prepare: OnnxPreparation, provider: str, model: PreparedModel, output: str,
                  context_length: int) -> list[str]:
    """The model builder with the spec's precision and provider, caching into the scratch folder."""
    return [f"python3 -m onnxruntime_genai.models.builder -i {model.checkpoint} -o {shlex.quote(output)} "
            f"-p {prepare.precision} -e {provider} -c {model.scratch}/builder-cache",
            f"{CONTEXT_CAP} {shlex.quote(output)}/genai_config.json {context_length}"]


def record_script(model: PreparedModel, staging: str, *, sha256: str = SHA256SUM) -> str:
    """Move the converted files in, then write their checksums and, last, the provenance."""
    where, scratch = shlex.quote(model.directory), shlex.quote(model.scratch)
    return "\n".join([
        f"mkdir -p {shlex.quote(model.directory.rsplit('/', 1)[0])}",
        f"mv {shlex.quote(staging)} {where}",
        f"cd {where}",
        f"find . -type f -print | LC_ALL=C sort | tr '\\n' '\\0' | xargs -0 {sha256} > {scratch}/{CHECKSUMS}",
        f"mv {scratch}/{CHECKSUMS} {CHECKSUMS}",
        f"printf '%s\\n' {' '.join(shlex.quote(line) for line in model.provenance)} > {scratch}/{PROVENANCE}",
        f"mv {scratch}/{PROVENANCE} {PROVENANCE}",
    ])


def download_script(deployment: Deployment, model: PreparedModel) -> str:
    """Unless the volume already holds a prepared model (the conversion step checks it), fetch the checkpoint's
    configs, tokenizer and safetensors weights at the pinned revision into the scratch folder."""
    source = deployment.model.source
    assert isinstance(source, HuggingFaceSource)
    where, scratch = shlex.quote(model.directory), shlex.quote(model.scratch)
    patterns = " ".join(shlex.quote(pattern) for pattern in CHECKPOINT_FILES)
    return "\n".join([
        "set -eu",
        f"if [ -f {where}/{PROVENANCE} ]; then exit 0; fi",
        f"rm -rf {scratch} {where}",
        f"mkdir -p {shlex.quote(model.checkpoint)}",
        f"{SNAPSHOT} {shlex.quote(source.repo)} {source.revision} {shlex.quote(model.checkpoint)} {patterns}",
    ])


def prepare_script(deployment: Deployment, model: PreparedModel) -> str:
    """Check a prepared model if there is one; otherwise judge the downloaded checkpoint, convert it, move it in and
    record it, the provenance last, so an interrupted step leaves no record and the next run prepares again."""
    prepare = deployment.model.prepare
    assert prepare is not None
    scratch = shlex.quote(model.scratch)
    staging = f"{model.scratch}/output"
    output = f"{staging}/{model.entry_file}" if isinstance(prepare, GgufPreparation) else staging
    convert = (_convert_gguf(prepare, model, output) if isinstance(prepare, GgufPreparation)
               else _convert_onnx(prepare, onnx_execution_provider(prepare, deployment.spec), model, output,
                                  deployment.model.context_length))
    checkpoint = shlex.quote(model.checkpoint)
    return "\n".join([
        "set -eu",
        f"if [ -f {shlex.quote(model.directory)}/{PROVENANCE} ]; then",
        check_script(model),
        "exit 0",
        "fi",
        f"if [ ! -d {checkpoint} ]; then echo {shlex.quote(NOT_DOWNLOADED)} >&2; exit {MODEL_REFUSED}; fi",
        f"{CHECKPOINT_CHECK} {checkpoint}",
        f"rm -rf {shlex.quote(model.directory)} {shlex.quote(staging)}",  # what an interrupted run left unrecorded
        f"mkdir -p {shlex.quote(staging)}",
        *convert,
        record_script(model, staging),
        f"rm -rf {scratch}",
    ])


def _lock(name: str) -> str:
    return (resources.files(__package__) / LOCKS / name).read_text(encoding="utf-8")


def lock_text(fmt: str) -> str:
    """The hash-locked requirement file of one format's preparation image (installed with --require-hashes)."""
    return _lock(f"model-prep-{fmt}.txt")


def torch_lock_text() -> str:
    """The hash-locked CPU torch requirement every preparation image installs first (with --require-hashes)."""
    return _lock(TORCH_LOCK)


def _pins(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line and not line.startswith("#")]


def locked_versions(fmt: str) -> dict[str, str]:
    """Every locked package of one format's image (torch included) and its one version."""
    return dict(sorted(pin.split("==", 1) for pin in _pins(lock_text(fmt)) + _pins(torch_lock_text())))


def requirements(prepare: GgufPreparation | OnnxPreparation) -> tuple[str, ...]:
    """The pinned Python packages of the preparation image for one format."""
    return tuple(f"{name}=={version}" for name, version in locked_versions(prepare.format).items())


def prep_build(deployment: Deployment) -> ImageBuild:
    """The preparation image: the pinned Python base with the converter's packages (and llama.cpp's tools)."""
    prepare = deployment.model.prepare
    assert prepare is not None
    return ImageBuild(template=f"model-prep-{prepare.format}", base=pinned(deployment, "python"),
                      context_files=((TORCH_REQUIREMENTS_FILE, torch_lock_text()),
                                     (REQUIREMENTS_FILE, lock_text(prepare.format))),
                      packages=requirements(prepare), healthcheck=TOOLS_IMPORT)


DOWNLOAD_MEMORY = 2**30
"""The hub client streams files to disk; it never holds the weights."""


def _step(deployment: Deployment, name: str, script: str, env: dict[str, str], **fields: Any) -> ServicePlan:
    """One one-shot step of the preparation image that writes the model volume."""
    # llama.cpp's converter imports the gguf-py package beside it by itself (unless NO_LOCAL_GGUF is set)
    base = {**cache_env(), **python_venv_env(), "HF_HOME": f"{CACHE_ROOT}/huggingface", "HF_HUB_DISABLE_TELEMETRY": "1"}
    return ServicePlan(
        name=f"{deployment.spec.name}-{name}", role="model-prep", runtime=deployment.spec.runtime.kind,
        image=None, build=prep_build(deployment), command=("/bin/sh", "-c"), args=(script,),
        env=tuple(sorted({**base, **env}.items())), port=None, health=None, readiness=None, metrics_path=None,
        writable_paths=WRITABLE_PATHS + (MODEL_ROOT,), model_dir=MODEL_ROOT, one_shot=True,
        labels=service_labels(deployment, "model-prep"), **fields,
    )


def preparation_services(deployment: Deployment, model: PreparedModel) -> tuple[ServicePlan, ServicePlan]:
    """The conversion step (first: its service owns the image build both share) and the download step it follows on
    the same volume. Only the download has the hub token (as a file) and a route to the hub: checkpoint data is
    untrusted, and the converters parse it."""
    secrets, token_env = hub_token(deployment)
    download = _step(deployment, "model-download", download_script(deployment, model), {**token_env, **ONLINE},
                     secret_files=secrets, cpu=1.0, memory_bytes=DOWNLOAD_MEMORY)
    convert = _step(deployment, "model-prep", prepare_script(deployment, model), OFFLINE,
                    cpu=max(1.0, deployment.spec.resources.cpu), memory_bytes=deployment.sizing.preparation_memory_bytes,
                    depends_on=(download.name,), offline=True)
    return convert, download


def llamacpp_source() -> tuple[str, str]:
    """The pinned llama.cpp source archive of the serving image's build: its URL and sha256."""
    source = known_source(llamacpp_build_number())
    return source.sdist_url, source.sdist_sha256
