"""InfiMed-Foundation, reproduced: the library behind the book.

One sub-package per pipeline step (see DESIGN in the README):
``data`` (corpus, loaders, tokenizer), ``curation``, ``packing``, ``model``, ``train``,
``eval``, ``report``; ``runner`` executes the notebooks in batch; ``common`` holds the small
utilities every step shares (atomic writes, parameter checks, config files).
"""
import os as _os

# Nothing is ever downloaded at run time.
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
