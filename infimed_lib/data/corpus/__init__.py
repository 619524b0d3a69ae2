"""The bundled miniature corpus, a synthetic stand-in for the paper's data (Chapter 00).

``corpus_build`` writes it (sources, benchmarks, manifest); ``corpus_sources`` lists the
sources and ``corpus_plan`` how many samples each gets; ``corpus_medical``, ``corpus_general``,
``corpus_dialogue`` and ``corpus_bench`` build the samples and benchmark items from the question
banks (``corpus_questions``) and the phrasing (``corpus_text``); ``corpus_draw``, ``corpus_color``,
``corpus_radiology`` and ``corpus_scenes`` draw the images, ``dicom_images`` adds pydicom's real
test scans; ``defects`` injects the flaws chapter 01's judge must find.
"""
from infimed_lib.data.corpus.corpus_build import corpus_matches, ensure_corpus, generate_corpus, source_count

__all__ = ["corpus_matches", "ensure_corpus", "generate_corpus", "source_count"]
