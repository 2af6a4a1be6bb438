# Two entry points: `make render` (render every example stack) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACKS := $(sort $(wildcard stacks/Pulumi.*.yaml))

.PHONY: render lint test policy-pack

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
	$(BIN)/ruff check components policies templates tests stacks benchmarks
	mkdir -p $(CACHE_ROOT)/locks
	flock $(CACHE_ROOT)/locks/mypy.lock env MYPY_CACHE_DIR=$(CACHE_ROOT)/mypy $(BIN)/mypy

# The policy pack as one folder that installs anywhere: the pack's files and the slm-deploy wheel its requirements
# name by relative path (pip resolves it in the folder Pulumi installs the pack from). `pulumi policy publish
# $(PACK_DIR)` publishes it; `pulumi preview --policy-pack $(PACK_DIR)` runs it on any program.
PACK_DIR ?= dist/policy-pack
policy-pack: | $(BIN)/slm-deploy
	rm -rf $(PACK_DIR)
	mkdir -p $(PACK_DIR)
	cp policies/PulumiPolicy.yaml policies/__main__.py policies/requirements.txt policies/README.md $(PACK_DIR)/
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation -w $(PACK_DIR) .

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup
