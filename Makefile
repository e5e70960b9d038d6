# Entry points. Each one sets the environment up first (tools/setup_env.sh: seconds when done).
PY := .venv/bin/python

.PHONY: setup lint test demo study

setup:
	bash tools/setup_env.sh

lint: setup
	.venv/bin/ruff check .

test: lint
	$(PY) -m pytest tests -q -p no:cacheprovider

demo: setup
	$(PY) tools/demo.py $(ARGS)

study: setup
	$(PY) tools/make_dataset.py --out data/glyphs
	$(PY) tools/study.py --study-dir configs/demo/study --iters 800 $(ARGS)
