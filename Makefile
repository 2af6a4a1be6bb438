# Two entry points: `make render` (render every example stack) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACKS := $(sort $(wildcard stacks/Pulumi.*.yaml))

.PHONY: render lint test

# The machine's cache root, as slm_deploy.pins.interfaces.artifacts.cache_root() finds it; mypy keeps its cache there,
# so a fresh clone re-checks only what changed (mypy matches cached modules by content hash, wherever the clone is).
CACHE_ROOT := $(or $(SLM_DEPLOY_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/slm-deploy)

# editable_mode=strict installs build/__editable__.*/slm_deploy, a real package tree of links into components/,
# policies/ and templates/, so mypy, pyright and editors resolve `slm_deploy` imports (the default mode maps the
# package through an import hook that only the interpreter follows). Edits show at once; a new file needs
# a reinstall (touch pyproject.toml; make .venv/bin/slm-deploy), and removing build/ removes the tree.
$(BIN)/slm-deploy: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]' --config-settings editable_mode=strict
	touch $@

render: $(BIN)/slm-deploy
	@for stack in $(STACKS); do \
	  name=$$(basename $$stack .yaml); name=$${name#Pulumi.}; \
	  $(BIN)/slm-deploy render $$stack --out build/$$name || exit 2; \
	done
	@$(BIN)/slm-deploy validate $(STACKS)

# ruff, then mypy (pydantic plugin, configured in pyproject.toml), one run at a time per machine on the shared cache.
lint: $(BIN)/slm-deploy
	$(BIN)/ruff check components policies templates tests stacks
	mkdir -p $(CACHE_ROOT)/locks
	flock $(CACHE_ROOT)/locks/mypy.lock env MYPY_CACHE_DIR=$(CACHE_ROOT)/mypy $(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup
