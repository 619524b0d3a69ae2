"""Command line: run one training stage, alone or under ``accelerate launch`` / ``torchrun``.

    accelerate launch --config_file infimed_lib/train/accelerate_configs/ddp.yaml \\
        -m infimed_lib.train --stage sft1 --config runs/paper/stage1/config.json --resume

Chapter 04 shows the multi-GPU recipes; every process reads the same config file.
"""
from __future__ import annotations

import argparse
import sys

from infimed_lib.common import ParameterError, read_json, run_command
from infimed_lib.train.train_config import STAGES, load_config
from infimed_lib.train.trainer import run_stage


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infimed_lib.train", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", required=True, choices=STAGES, help="which stage to train")
    parser.add_argument("--config", required=True, help="JSON file of TrainConfig fields")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint in output_dir (fresh start if none)")
    parser.add_argument("--stop-after-steps", type=int, default=None,
                        help="end after this many optimizer steps without a final model (resume drills)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_command(lambda: _run(args))


def _run(args: argparse.Namespace):
    config = load_config(args.config, **({} if _has_stage(args.config) else {"stage": args.stage}))
    if config.stage != args.stage:
        raise ParameterError("stage", f"--stage {args.stage} but {args.config} says {config.stage!r}")
    return run_stage(config, resume=args.resume, stop_after_steps=args.stop_after_steps)


def _has_stage(path: str) -> bool:
    try:
        return "stage" in read_json(path)
    except (OSError, ValueError):
        return True  # let load_config report the unreadable file


if __name__ == "__main__":
    sys.exit(main())
