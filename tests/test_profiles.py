"""The shipped profiles: every value a notebook declares, mixtures that name sources the paper
sources file imports, paths derived from run_dir, chapters 08 and 09 evaluating alike."""
from pathlib import Path

import pytest
import yaml

from infimed_lib.data.mixtures import FILTERED_SUFFIX
from infimed_lib.profiles import declared_parameters, load_profile, resolve

NOTEBOOKS = sorted(Path("notebooks").glob("*.ipynb"))
MIXTURES = {"02_packing": "cpt_mixture", "05_sft_general": "mixture", "06_sft_medical": "mixture",
            "07_sft_cross_distribution": "mixture"}
# Settings that decide what chapter 08 and chapter 09 score; 09 reuses 08's predictions only if they agree.
EVALUATION = ("benchmark_paths", "benchmarks_dir", "benchmarks", "batch_size", "max_new_tokens", "reasoning", "limit",
              "judge_base_url", "judge_model", "judge_api_key_env", "dtype", "seed", "corpus_dir")


@pytest.fixture(scope="module")
def declared():
    return {path.stem: declared_parameters(path) for path in NOTEBOOKS}


def resolved(name, declared):
    profile = load_profile(f"profiles/{name}.yaml")
    values = resolve(profile, NOTEBOOKS)
    return {stem: {**declared[stem], **values[stem]} for stem in declared}


@pytest.mark.parametrize("name", ["tiny", "paper"])
def test_profile_values_are_declared_and_typed(name):
    resolve(load_profile(f"profiles/{name}.yaml"), NOTEBOOKS)  # raises ParameterError on a typo or wrong type


def test_paper_mixtures_name_only_sources_the_paper_sources_file_imports(declared):
    imported = {entry["name"] for entry in yaml.safe_load(Path("profiles/paper_sources.yaml").read_text())["sources"]}
    values = resolved("paper", declared)
    for stem, key in MIXTURES.items():
        named = {s.removesuffix(FILTERED_SUFFIX) for s in values[stem][key]}
        assert named <= imported, f"{stem}.{key} names {sorted(named - imported)}, which paper_sources.yaml lacks"
    assert values["00_overview"]["example_source"] in imported


def test_paper_chapters_08_and_09_evaluate_alike(declared):
    values = resolved("paper", declared)
    for key in EVALUATION:
        if key in declared["08_evaluation"] and key in declared["09_ablation_case_studies"]:
            assert values["08_evaluation"][key] == values["09_ablation_case_studies"][key], key


@pytest.mark.parametrize("name", ["tiny", "paper"])
def test_paths_inside_run_dir_are_derived_not_spelled_out(name, declared):
    """A value like runs/paper/tokenizer silently points at the old run once run_dir is edited."""
    profile = load_profile(f"profiles/{name}.yaml")
    run_dir = profile.parameters["run_dir"].rstrip("/") + "/"
    spelled = [(stem, key) for stem, values in profile.notebooks.items() for key, value in values.items()
               if isinstance(value, str) and value.startswith(run_dir) and key != "corpus_dir"]
    spelled += [("parameters", key) for key, value in profile.parameters.items()
                if key not in ("run_dir", "corpus_dir") and isinstance(value, str) and value.startswith(run_dir)]
    assert not spelled, f"{name}.yaml spells out paths under run_dir: {spelled}"


def test_notebook_defaults_are_the_tiny_profiles_values(declared):
    """A chapter run in Jupyter (its own defaults, no profile) writes what `make notebooks` writes."""
    profile = yaml.safe_load(Path("profiles/tiny.yaml").read_text())
    shared = profile.get("parameters") or {}
    differing = [f"{stem}: {key} = {declared[stem][key]!r}, profile {value!r}"
                 for stem, values in (profile.get("notebooks") or {}).items()
                 for key, value in {**{k: v for k, v in shared.items() if k in declared[stem]}, **values}.items()
                 if declared[stem].get(key) != value]
    assert not differing, "; ".join(differing)
