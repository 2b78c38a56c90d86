"""benchmarks: the harness behind ``robowatch bench ...``, apart from the runtime packages.

Each module measures one thing and returns a JSON-ready report; ``robowatch/cli/bench.py``
holds the commands that run them. The SQL they measure with is in ``storage/measure.py``.
Nothing in the runtime packages imports this package (an import contract checks it).
"""
