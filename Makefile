# The two commands of the README:
#   make demo   install on embedded defaults and run the main job end to end
#   make test   install with dev tools and run lint, import contracts and all tests
PYTHON ?= python3
DATA   ?= eokg-data

.PHONY: install install-dev demo test lint unit bench clean

install:
	PYTHON=$(PYTHON) scripts/install.sh all

install-dev:
	PYTHON=$(PYTHON) scripts/install.sh all,dev

demo: install
	$(PYTHON) -m eokg demo --data-dir $(DATA)

lint:
	$(PYTHON) -m ruff check .
	lint-imports
	$(PYTHON) -c "import sys, eokg, eokg.cli, eokg.config; bad = [m for m in ('pyspark', 'tensorflow', 'elasticsearch') if m in sys.modules]; sys.exit(f'core import pulled in {bad}' if bad else 0)"

unit:
	$(PYTHON) -m pytest

test: install-dev lint unit

bench:
	$(PYTHON) -m bench

clean:
	rm -rf build $(DATA) .pytest_cache .ruff_cache .mypy_cache
