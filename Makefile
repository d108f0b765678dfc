# memvid_mm: `make demo` runs the SynthVID main job, `make test` the tests.
# Both create the virtual environment first when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
# `make demo BLUR=motion`: SynthVID with blur that follows each object's
# motion, in data/synthvid_motion-blur and work_dirs/demo_motion-blur.
BLUR ?= frame
# `make demo BLUR=motion DEGRADATIONS=blur`: every degraded frame blurred,
# in data/synthvid_motion-blur_only-blur (run_demo.py --degradations).
DEGRADATIONS ?=
WORK_DIR ?=

.PHONY: env demo test clean-env

env: $(VENV)/.memvid_ready

$(VENV)/.memvid_ready:
	VENV=$(VENV) bash tools/setup_env.sh

demo: env
	$(PY) tools/misc/run_demo.py --blur $(BLUR) $(if $(DEGRADATIONS),--degradations $(DEGRADATIONS)) $(if $(WORK_DIR),--work-dir '$(WORK_DIR)')

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider

clean-env:
	rm -rf $(VENV)
