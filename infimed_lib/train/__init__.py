"""infimed_lib.train: continual pretraining and the three SFT stages (chapters 04-07).

Notebook-facing API::

    config = stage_config("sft1", run_dir, global_batch_size=8, learning_rate=1e-3)  # standard paths
    result = run_stage(config)              # -> StageResult(checkpoint_dir, metrics_path, summary)
    frame = load_metrics(result.metrics_path)

Command line (one process, ``torchrun`` or ``accelerate launch``)::

    python -m infimed_lib.train --stage sft1 --config <stage>/config.json [--resume]
"""
from infimed_lib.train.metrics_log import load_metrics, summarize
from infimed_lib.train.schedule import schedule_curve, warmup_steps
from infimed_lib.train.throughput import compare_packed_padded, compare_visual_tokens
from infimed_lib.train.train_config import MIXTURE_FILE, PAPER_DEFAULTS, STAGE_DIRS, STAGES, TrainConfig, \
    config_from_dict, load_config, stage_config
from infimed_lib.train.trainer import StageResult, load_result, run_stage

__all__ = [
    "MIXTURE_FILE", "PAPER_DEFAULTS", "STAGE_DIRS", "STAGES", "StageResult", "TrainConfig",
    "compare_packed_padded", "compare_visual_tokens", "config_from_dict", "load_config", "load_metrics",
    "load_result", "run_stage", "schedule_curve", "stage_config", "summarize", "warmup_steps",
]
