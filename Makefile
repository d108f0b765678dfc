# memvid_mm: `make demo` runs the SynthVID main job, `make test` the tests.
# Both create the virtual environment first when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
WORK_DIR ?= work_dirs/demo

.PHONY: env demo test clean-env

env: $(VENV)/.memvid_ready

$(VENV)/.memvid_ready:
	VENV=$(VENV) bash tools/setup_env.sh

demo: env
	$(PY) tools/misc/run_demo.py --work-dir $(WORK_DIR)

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider

clean-env:
	rm -rf $(VENV)
