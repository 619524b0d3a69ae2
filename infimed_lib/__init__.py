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

# Notebooks run without ipywidgets; tqdm.auto then falls back to text bars, which is what the
# rendered book should show, so its warning about the missing widget is noise.
import warnings as _warnings

_warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"
