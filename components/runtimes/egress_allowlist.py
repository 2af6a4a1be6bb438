"""The host names a model download may reach through the egress proxy, derived from the spec's model source.

Only names, never address ranges or whole shared suffixes, and only those the pinned clients are sent to:

- Hugging Face. `huggingface.co` serves the API and the `/resolve/` URLs every client starts from (the
  default HF_ENDPOINT of huggingface_hub 0.36 and 2.4, and the URL llama.cpp's fetch step builds). File
  downloads then redirect to storage hosts. The Hub publishes the current set in
  https://huggingface.co/.well-known/meta.json: `lfsDomains` (cdn-lfs.hf.co, cdn-lfs-us-1.hf.co,
  cdn-lfs-eu-1.hf.co, transfer.xethub.hf.co, transfer.xethub-eu.hf.co) and `cdnDomains` (aws.cdn.hf.co and
  its regions, us.gcp.cdn.hf.co and its regions); huggingface/hub-docs pull requests 2628, 2647 and 2727
  document them for proxies and firewalls. hf_xet (1.8, in both preparation locks) takes its CAS endpoint from
  the Hub's `/xet-read-token` answer, `cas-server.xethub.hf.co` (huggingface/huggingface_hub issue 4475), and
  reads chunks from the `transfer.xethub.hf.co` URLs that server returns. Clients without hf_xet (the vLLM
  image's own huggingface_hub) are redirected to the Xet bridge, `cas-bridge.xethub.hf.co`. The legacy
  `cdn-lfs*.huggingface.co` names are no longer served (hub-docs pull request 2647 dropped them).
- Ollama. The library registry is `registry.ollama.ai` (ollama/ollama types/model/name.go, DefaultHost);
  it redirects blob downloads to one Cloudflare R2 bucket host,
  `dd20bb891979d25aebc8bec07b2b3bbc.r2.cloudflarestorage.com` (a maintainer's answer in ollama/ollama
  issue 4307; the same host in every failed-pull report, e.g. issues 3594, 8711, 10151), so that one name is
  allowed, never `*.r2.cloudflarestorage.com`, which any Cloudflare customer can serve from.
  A tag that names the Hub's registry (`hf.co/<user>/<repo>:<tag>`, the only other one the spec allows) is
  pulled from the Hub and its storage hosts instead.
"""

from __future__ import annotations

from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.model_section import OllamaSource
from slm_deploy.spec.ollama_names import registry_of

HUGGING_FACE_HUB = ("huggingface.co",)
HUGGING_FACE_STORAGE = (
    "cdn-lfs.hf.co", "cdn-lfs-us-1.hf.co", "cdn-lfs-eu-1.hf.co",
    "transfer.xethub.hf.co", "transfer.xethub-eu.hf.co",
    "cas-server.xethub.hf.co", "cas-bridge.xethub.hf.co",
    "aws.cdn.hf.co", "us.aws.cdn.hf.co", "us-east-1.aws.cdn.hf.co", "us-west-2.aws.cdn.hf.co",
    "eu-west-3.aws.cdn.hf.co", "ap-southeast-1.aws.cdn.hf.co",
    "us.gcp.cdn.hf.co", "us-east1.us.gcp.cdn.hf.co", "us-central1.us.gcp.cdn.hf.co",
    "us-west4.us.gcp.cdn.hf.co", "europe-west4.us.gcp.cdn.hf.co", "asia-southeast1.us.gcp.cdn.hf.co",
)
OLLAMA_REGISTRY = "registry.ollama.ai"
OLLAMA_BLOB_STORE = "dd20bb891979d25aebc8bec07b2b3bbc.r2.cloudflarestorage.com"


def allowed_hosts(deployment: Deployment) -> tuple[str, ...]:
    """Every name the download steps of this deployment may reach, sorted."""
    source = deployment.model.source
    if isinstance(source, OllamaSource):
        registry = registry_of(source.tag)
        if registry is None:
            return tuple(sorted((OLLAMA_REGISTRY, OLLAMA_BLOB_STORE)))
        return tuple(sorted({registry, *HUGGING_FACE_HUB, *HUGGING_FACE_STORAGE}))
    return tuple(sorted((*HUGGING_FACE_HUB, *HUGGING_FACE_STORAGE)))
