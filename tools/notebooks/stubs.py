import sys; sys.path.insert(0, "tools")
from nbbuild import write_notebook

STUBS = {
    "04_pretraining": "Continual pretraining on the packed shards",
    "05_sft_general": "SFT stage 1: general instruction following",
    "06_sft_medical": "SFT stage 2: medical instruction following",
    "07_sft_cross_distribution": "SFT stage 3: cross-distribution instruction adaptation",
    "08_evaluation": "Evaluation on the seven benchmarks",
    "09_ablation_case_studies": "The SFT ablation and case studies",
}
for stem, title in STUBS.items():
    if len(sys.argv) > 1 and stem[:2] not in sys.argv[1:]:
        continue
    write_notebook(f"notebooks/{stem}.ipynb", [
        ("md", f"# {stem[:2]} · {title}\n\nThis chapter is not written yet. It will run the step with the "
               "library and show measured results; until then it shows nothing rather than invented numbers."),
        ("params", 'run_dir = "runs/tiny"  # folder for everything this run writes\nseed = 0  # random seed'),
    ])
