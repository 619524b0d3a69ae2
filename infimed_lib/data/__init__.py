"""infimed_lib.data: the miniature corpus, loaders for the real formats, the tokenizer, mixtures.

Chapter 00 generates the corpus and trains the tokenizer; every later chapter reads them.
"""
from infimed_lib.data.benchmarks import BENCHMARKS, BenchmarkItem, load_benchmark, write_benchmark
from infimed_lib.data.corpus import ensure_corpus, generate_corpus
from infimed_lib.data.images import image_to_data_url, load_image
from infimed_lib.data.mixtures import MixtureSpec, build_mixture

__all__ = ["BENCHMARKS", "BenchmarkItem", "MixtureSpec", "build_mixture", "ensure_corpus", "generate_corpus",
           "image_to_data_url", "load_benchmark", "load_image", "write_benchmark"]
