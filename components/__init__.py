"""slm-deploy: typed specs to hardened serving stacks for small language models."""

__version__ = "0.1.0"
