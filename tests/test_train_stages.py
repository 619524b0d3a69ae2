"""Stage helpers of chapters 04-07: mixture file for the trainer, launch command lines."""
import json

import pytest

from infimed_lib.common import ParameterError, read_jsonl
from infimed_lib.train import stage_config
from infimed_lib.train.stages import launch_command, launch_stage, prepare_mixture


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "corpus" / "sources").mkdir(parents=True)
    rows = [{"id": f"m-{i}", "source": "med-mini", "domain": "medical", "images": ["images/a.png"],
             "conversations": [{"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"}], "meta": {}}
            for i in range(30)]
    (tmp_path / "corpus" / "sources" / "med-mini.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_prepare_mixture_writes_the_trainers_input(corpus):
    config = stage_config("sft3", corpus / "run")
    built = prepare_mixture(config, {"med-mini": 1.0}, corpus / "corpus", "", balance_to=12, seed=1)
    written = read_jsonl(config.data_path)
    assert len(written) == 12 and [r["id"] for r in written] == [s["id"] for s in built.samples]


def test_prepare_mixture_refuses_an_empty_selection(corpus):
    keep = corpus / "keep.json"
    keep.write_text(json.dumps({"keep": []}))
    with pytest.raises(ParameterError, match="sft2_mixture"):
        prepare_mixture(stage_config("sft2", corpus / "run"), {"med-mini": 1.0}, corpus / "corpus", str(keep))


def test_launch_commands(tmp_path):
    cmd = launch_command(tmp_path / "c.json", "sft1", "accelerate", "ddp", num_processes=8)
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"] and "--num_processes" in cmd
    assert cmd[cmd.index("--config_file") + 1].endswith("accelerate_configs/ddp.yaml")
    assert cmd[cmd.index("infimed_lib.train") + 1:] == ["--stage", "sft1", "--config", str(tmp_path / "c.json"), "--resume"]
    torchrun = launch_command(tmp_path / "c.json", "cpt", "torchrun", num_processes=2)
    assert "--nproc_per_node=2" in torchrun
    with pytest.raises(ParameterError, match="accelerate_config"):
        launch_command(tmp_path / "c.json", "cpt", "accelerate", "nope")
    with pytest.raises(ParameterError, match="num_processes"):
        launch_command(tmp_path / "c.json", "cpt", "accelerate", "ddp", num_processes=0)


def test_one_process_overrides_the_config_files_count(tmp_path):
    """ddp.yaml says num_processes: 8; a stage asking for 1 must not start 8."""
    cmd = launch_command(tmp_path / "c.json", "sft1", "accelerate", "ddp", num_processes=1)
    assert cmd[cmd.index("--num_processes") + 1] == "1"
    assert cmd.index("--num_processes") < cmd.index("-m", 3)
    with pytest.raises(ParameterError, match="launcher"):
        launch_stage(stage_config("cpt", tmp_path), launcher="slurm")


def test_mixture_file_is_independent_of_the_checkout_location(corpus):
    config = stage_config("sft1", corpus / "run")
    prepare_mixture(config, {"med-mini": 5}, corpus / "corpus", "", seed=0)
    rows = read_jsonl(config.data_path)
    assert config.image_root == str(corpus / "corpus")
    assert all(not ref.startswith("/") for row in rows for ref in row["images"])
