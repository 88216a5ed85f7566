# spon: `make demo` runs the main demo, `make test` runs the tests.
# Both first run scripts/install.sh, which is idempotent (seconds when all is in place).
PY := .venv/bin/python
export OMP_NUM_THREADS := 1

.PHONY: install test demo clean-venv

install:
	bash scripts/install.sh

test: install
	$(PY) -m pytest -q

demo: install
	$(PY) demos/poisson_mlp.py

clean-venv:
	rm -rf .venv
