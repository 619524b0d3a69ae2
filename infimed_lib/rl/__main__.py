"""Command line: one GRPO run, alone or under ``accelerate launch`` / ``torchrun``.

    accelerate launch --config_file infimed_lib/train/accelerate_configs/ddp.yaml \\
        -m infimed_lib.rl --config runs/paper/rl/from_sft/launch_config.json --resume

Chapter 10 writes the config file; every process reads the same one.
"""
from __future__ import annotations

import argparse
import sys

from infimed_lib.common import run_command
from infimed_lib.rl.grpo_config import load_rl_config
from infimed_lib.rl.grpo_trainer import run_grpo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infimed_lib.rl", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="JSON file of RLConfig fields")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint (fresh start if none)")
    parser.add_argument("--stop-after-steps", type=int, default=None,
                        help="end after this many steps without a final model")
    args = parser.parse_args(argv)
    return run_command(lambda: run_grpo(load_rl_config(args.config), resume=args.resume,
                                        stop_after_steps=args.stop_after_steps))


if __name__ == "__main__":
    sys.exit(main())
