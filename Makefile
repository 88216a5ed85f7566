# spon: `make demo` runs the main demo, `make test` runs the tests.
# Both first run scripts/install.sh, which is idempotent (seconds when all is in place).
PY := .venv/bin/python
export OMP_NUM_THREADS := 1

.PHONY: install test demo demo-poisson docs bench-darcy clean-venv

install:
	bash scripts/install.sh

test: install
	$(PY) -m pytest -q

demo: install
	$(PY) demos/darcy_mg.py

demo-poisson: install
	$(PY) demos/poisson_mlp.py

# tutorials are the demos run with small settings; -W: warnings are errors
docs: install
	$(PY) doc/make_tutorials.py
	$(PY) -m sphinx -W --keep-going -q -b html doc doc/_build/html
	@ls doc/_build/html/_images/*.png > /dev/null && echo "docs: doc/_build/html/index.html"

# benchmarks need neuraloperator (the FNO baseline), kept out of the runtime dependencies
bench-darcy: install
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) benchmarks/darcy.py --quick

clean-venv:
	rm -rf .venv
