# Every target sets itself up from nothing: the virtual environment is created and the
# project installed (with its test extras) the first time, then reused.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench report reproduce clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# One pytest worker per core (each test in one torch thread); the Ray and killed-worker tests
# stay on one worker (tests/test_restore_workers.py).
test: $(STAMP)
	$(BIN)/python -m pytest tests -n auto --dist loadgroup

bench: $(STAMP)
	$(BIN)/python -m pnp_internal.bench.suite

report: $(STAMP)
	$(BIN)/pnp-internal report

# The survey's three first experiments against the published numbers, 3 seeds; QUICK=1: the
# first image of each set on small crops (9.3 minutes on 2 cores, two single-thread jobs at a time, record reproduce-quick-run3).
reproduce: $(STAMP)
	$(BIN)/python benchmarks/experiments/reproduce.py $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) out build *.egg-info
