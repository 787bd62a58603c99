# Everything a fresh machine with Python 3.11 needs: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint kb-validate kb-seed i18n clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/safecampus demo

test: $(INSTALLED)
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

kb-validate: $(INSTALLED)
	$(BIN)/safecampus kb validate

# Regenerate the packaged embedding seed (knowledge_base/seed) after changing the content,
# so that a fresh install starts without embedding every text (see docs/knowledge_base.md).
kb-seed: $(INSTALLED)
	$(BIN)/safecampus kb seed

# Refresh the Chinese catalog after changing user-facing texts; then translate the new
# empty entries in bot/locales/zh/LC_MESSAGES/messages.po.
i18n: $(INSTALLED)
	$(BIN)/pybabel extract -k _ -k __ -k N_ --no-location --sort-output --project SafeCampus --copyright-holder 'SafeCampus developers' -o /tmp/safecampus.pot bot dialogs
	$(BIN)/pybabel update --no-fuzzy-matching --width=0 -l zh -d bot/locales -i /tmp/safecampus.pot

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
