"""Jinja2 templates for free text (Dockerfiles, entrypoints, READMEs) and the cookiecutter project."""
