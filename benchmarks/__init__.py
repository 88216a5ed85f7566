"""spon's benchmarks: measured comparisons, each writing JSON to ``benchmarks/results/``.

* :mod:`benchmarks.harness`: the model protocol, the seed loop, summaries, result files, threads;
* :mod:`benchmarks.baselines`: the grid FNO, SPON's recipe, the least-squares operator;
* :mod:`benchmarks.problems`: one module per problem, registered in ``PROBLEMS``;
* ``python -m benchmarks list`` and ``python -m benchmarks run NAME [NAME ...] [options]``;
* ``python benchmarks/table.py`` prints the README's tables from the results.
"""
