# Two entry points: `make render` (render every example stack) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACKS := $(sort $(wildcard stacks/Pulumi.*.yaml))

.PHONY: render test

$(BIN)/slm-deploy: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

render: $(BIN)/slm-deploy
	@for stack in $(STACKS); do \
	  name=$$(basename $$stack .yaml); name=$${name#Pulumi.}; \
	  $(BIN)/slm-deploy render $$stack --out build/$$name || exit 2; \
	done
	@$(BIN)/slm-deploy validate $(STACKS)

test: $(BIN)/slm-deploy
	$(BIN)/python -m pytest -n 2 --dist loadgroup
