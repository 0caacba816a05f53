# Two commands for a newcomer: `make demo` and `make test`. Each sets up everything it needs.
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed-stamp
# Debian packages the project uses where they can be had (see scripts/system-packages.sh).
SYSTEM_PACKAGES ?= chromium fonts-noto-cjk

.PHONY: demo test setup system lint stubs bench clean gpu-check

demo: setup
	$(BIN)/optigrade demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto

setup: $(STAMP) system

# torch is not pinned for users; on these machines torch==2.13.0 is a CPU wheel on local disk
# (fast), while a plain `torch` pulls a multi-GB CUDA build. The venv is isolated from the system
# site-packages on purpose: the sandbox must see exactly the packages the venv holds.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null \
	  || $(BIN)/python -m pip install -q torch==2.13.0 \
	  || $(BIN)/python -m pip install -q torch
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

system:
	@scripts/system-packages.sh $(SYSTEM_PACKAGES)

stubs: $(STAMP)
	$(BIN)/python -m grader.stubs

# On a GPU machine, with a Python that already holds a CUDA torch (no network needed):
#   python3 -m pip install --no-deps --no-build-isolation -e . && make gpu-check
GPU_PYTHON ?= python3
gpu-check:
	@timeout --foreground 300 $(GPU_PYTHON) scripts/gpu_check.py; rc=$$?; \
	  if [ $$rc -eq 124 ]; then echo "gpu-check: FAIL — not done within 5 minutes"; fi; exit $$rc

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache demo-out
