"""slm-deploy: typed specs to hardened serving stacks for small language models."""
