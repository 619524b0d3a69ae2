"""InfiMed-Foundation, reproduced: the library behind the book.

One sub-package per pipeline step, imports going down the pipeline only (the module map in the
README; ``tests/test_architecture.py`` checks the direction): ``data`` (schema, formats,
tokenizer, prompt layout, the synthetic corpus), ``curation``, ``packing``, ``model``,
``train``, ``eval``, ``rl``, ``report``; ``runner`` executes the notebooks in batch; ``common``
holds the small utilities every step shares (atomic writes, parameter checks, config files).
Importing the library sets no environment variable and no warning filter: the Makefile, the runner and the benchmark
scripts run offline (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``).
"""
__version__ = "0.1.0"
