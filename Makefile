# make demo   offline end-to-end recipe (egs/demo/run.sh)
# make test   the default test suite (offline; realdata tests run when ../shared/realdata exists)
# make bench  benchmarks printing ratios against reference libraries
# make lint   ruff: lint (pyflakes, import order) and format check (config in pyproject.toml)
#
# Both create .venv when it is missing. TORCH selects the torch build: the
# default is the CPU wheel of torch 2.13.0; a GPU user installs a CUDA build
# into .venv first, or passes e.g. TORCH="torch==2.13.0 --index-url <cuda index>".

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
EXTRAS ?= test,dask,textgrid,lint
STAMP := $(VENV)/.installed

.PHONY: demo test test-all bench lint clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet $(TORCH)
	$(VENV)/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(VENV)/bin/python -c "from recipes import lilcom_codec; lilcom_codec.warm_up()"  # numba compiles once, here
	touch $@

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" egs/demo/run.sh

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not slow" -n 2

test-all: $(STAMP)
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check recipes tests bench
	$(VENV)/bin/ruff format --check recipes tests bench

clean:
	rm -rf egs/*/data egs/*/download
