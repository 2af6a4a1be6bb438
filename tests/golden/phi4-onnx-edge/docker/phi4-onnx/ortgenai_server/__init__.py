"""OpenAI-compatible chat completions server for ONNX Runtime GenAI models, with Prometheus metrics.

Kept free of imports so that reading this package's files (requirements.txt) needs none of its dependencies.
"""
