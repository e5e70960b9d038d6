# Entry points. Each one sets the environment up first (tools/setup_env.sh: seconds when done).
PY := .venv/bin/python

.PHONY: setup lint test demo study

setup:
	bash tools/setup_env.sh

lint: setup
	.venv/bin/ruff check .

# One process per core (pytest-xdist), a file's tests together (its module fixtures are shared),
# one BLAS/OpenMP thread each.
test: lint
	OMP_NUM_THREADS=1 $(PY) -m pytest tests -q -p no:cacheprovider -n auto --dist loadfile

demo: setup
	$(PY) tools/demo.py $(ARGS)

study: setup
	$(PY) tools/make_dataset.py --out data/glyphs
	$(PY) tools/study.py --study-dir configs/demo/study --iters 800 $(ARGS)
