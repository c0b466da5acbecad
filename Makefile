# `make demo` and `make test` work on a fresh machine: each creates or reuses .venv,
# installs what is missing (a stamp file makes the second run instant), provisions the
# offline datasets, then does its job.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 1
export PYTHONDONTWRITEBYTECODE := 1

FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
DIGITS  := /usr/share/doc/opencv-doc/examples/data/digits.png
FORTUNES := /usr/share/games/fortunes/computers
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

.PHONY: install system data demo test format test-browser lab grade-lab release run-smoke run-full backends gpu-pack gpu-run gpu-rehearse results doctor clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

# Debian packages that carry real data, the grading sandbox, and the browser (with a font
# for the lessons' Chinese terms) the browser tests drive. Installed when we are root
# with apt; otherwise we say what to install and go on with what is there.
system:
	@missing=""; \
	test -f $(FASHION) || missing="$$missing dataset-fashion-mnist"; \
	test -f $(DIGITS) || missing="$$missing opencv-doc"; \
	test -f $(FORTUNES) || missing="$$missing fortunes"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	test -f $(CJK_FONT) || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages:$$missing -- run: sudo apt-get install$$missing"; \
	  fi; \
	fi

data: install system
	$(BIN)/course data fetch fashion_mnist opencv_digits sklearn_digits photo_patches fortunes

demo: data
	$(BIN)/course demo

# Lint and format checks (ruff: packages, tests, solution notebooks), then unit and pipeline
# tests. Every solution notebook is graded in smoke mode (tests/test_lessons.py),
# which also checks that no cell raises and that cells marked NBVAL_CHECK_OUTPUT print what is stored.
# Three pytest workers on two cores (a fourth only made every test slower); tests/conftest.py
# groups the tests (a module together, each lesson's graded run apart), slowest first. The
# browser tests are `make test-browser`: with them CI's 30 minutes would not hold.
test: data
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	COURSE_MODE=smoke $(BIN)/python -m pytest -q -n 3 --dist loadscope --no-loadscope-reorder --durations=40 \
	  --ignore=tests/test_browser.py tests

# Format and fix what ruff can (make test only checks).
format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# The two JupyterLab journeys in Chromium (about 3 minutes, not in `make test`); screenshots of each
# step, and of the page where a step failed, land in build/test-artifacts/browser/.
test-browser: data
	COURSE_MODE=smoke $(BIN)/python -m pytest -q tests/test_browser.py

# JupyterLab for students: lessons/, without nbgrader's instructor tools.
lab: install
	$(BIN)/course lab

# JupyterLab for instructors: formgrader on a graded class (make grade-lab LESSON=01 [WORKSPACE=dir]).
grade-lab: install
	$(BIN)/course lab --grade $(LESSON) $(if $(WORKSPACE),--workspace $(WORKSPACE))

release: install
	$(BIN)/course release

doctor: install
	$(BIN)/course doctor

run-smoke: data
	$(BIN)/course run --mode smoke --record

run-full: data
	$(BIN)/course run --mode full --record

# Every lesson in smoke mode on each Keras backend, tabulated in docs/results.md.
# PyTorch is large and no lesson needs it, so it lives in a venv of its own, made here
# from the package index (the same pins, plus torch).
TORCH_VENV := .venv-torch
TORCH      := torch==2.13.0

$(TORCH_VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt $(TORCH)
	$(TORCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

backends: data $(TORCH_VENV)/.installed
	-$(BIN)/course run --mode smoke --backend tensorflow --record --out build/run-smoke-tensorflow
	-$(BIN)/course run --mode smoke --backend jax --record --out build/run-smoke-jax
	-$(TORCH_VENV)/bin/course run --mode smoke --backend torch --record --out build/run-smoke-torch

# The whole course in full mode on a lent GPU in one call (README: "On a lent GPU"):
# gpu-pack here puts the wheels the GPU image lacks and the data into build/gpu/;
# gpu-run there (the image's python3, no venv) installs them and runs every lesson on JAX.
gpu-pack: data
	$(BIN)/python -m autograder.device pack

gpu-run:
	python3 -m autograder.device run

# gpu-rehearse here imitates that image (a Python 3.12 venv with its packages, JAX for the
# CPU) and runs gpu-run's command from it in smoke mode: what a lent GPU would hit first.
GPU_PYTHON ?= python3.12
gpu-rehearse: gpu-pack
	$(BIN)/python -m autograder.device rehearse --python $(GPU_PYTHON)

results: install
	$(BIN)/course results

clean:
	rm -rf build grading .pytest_cache
