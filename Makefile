# spon: `make demo` runs the main demo, `make test` runs the tests.
# Both first run scripts/install.sh, which is idempotent (seconds when all is in place).
PY := .venv/bin/python
export OMP_NUM_THREADS := 1

.PHONY: install test test-benchmarks demo demo-poisson docs bench-darcy clean-venv

install:
	bash scripts/install.sh

# two xdist workers, one per core; each compiles into Firedrake's disk caches by atomic renames,
# so two processes writing the same kernel is safe; --dist loadfile keeps a module's fixtures in one worker
TEST_WORKERS ?= 2

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# every registered benchmark with tiny settings (needs the bench extra: neuraloperator)
test-benchmarks: install
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m pytest -q -m benchmark -n $(TEST_WORKERS) --dist loadgroup tests/test_benchmarks.py

demo: install
	$(PY) demos/darcy_mg.py

demo-poisson: install
	$(PY) demos/poisson_mlp.py

# sphinx-gallery runs the demos and how-tos with small settings (doc/gallery_settings.py);
# -W: warnings are errors; then the built pages are checked (no machine paths, a figure per gallery page)
docs: install
	$(PY) -m sphinx -W --keep-going -q -b html doc doc/_build/html
	$(PY) -m pytest -q -p no:cacheprovider tests/test_docs.py --built-docs doc/_build/html
	@echo "docs: doc/_build/html/index.html"

# benchmarks need neuraloperator (the FNO baseline), kept out of the runtime dependencies
bench-darcy: install
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m benchmarks run darcy --quick

clean-venv:
	rm -rf .venv
