"""Servers slm-deploy ships."""
