# Entry points. Each one sets the environment up first (tools/setup_env.sh: seconds when done).
PY := .venv/bin/python

.PHONY: setup test demo

setup:
	bash tools/setup_env.sh

test: setup
	$(PY) -m pytest tests -q -p no:cacheprovider

demo: setup
	$(PY) tools/demo.py $(ARGS)
