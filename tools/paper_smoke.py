"""``make paper-smoke``: the paper profile end to end on a CPU, with format-exact stand-ins.

What a user with the real weights and datasets does, on miniature copies of the real folders
(``tests/paper_standins.py``): a Qwen3-Instruct folder (Qwen2Tokenizer, specials after the BPE
vocabulary, padded embeddings, bf16 weights), a full SigLIP checkpoint at 384 px / patch 14,
LLaVA-style JSON sources and the benchmarks' published layouts. The sources are imported with
``infimed_lib.data.importer``; chapters 00-10 then run with ``profiles/paper.yaml``, changed only
where a CPU needs it (paths, batch sizes, two processes instead of eight GPUs, small synthetic
comparisons). The paper's geometry stays: 729 visual tokens per image in SFT, 4,096-token packed
rows, 384 px images. The training stages run as ``accelerate launch`` jobs with two CPU processes
(``infimed_lib/train/accelerate_configs/cpu_2proc.yaml``); the curation and open-question judges
are a local OpenAI-compatible stand-in server. Any error stops the run with a non-zero exit.

Run: ``make paper-smoke`` or ``.venv/bin/python tools/paper_smoke.py --out build/paper_smoke``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import paper_standins  # noqa: E402

from infimed_lib.chapter_box import TIMINGS_FILE  # noqa: E402
from infimed_lib.common import read_json  # noqa: E402
from infimed_lib.curation import SCORE_KEYS  # noqa: E402
from infimed_lib.data import importer  # noqa: E402

# What a CPU changes in profiles/paper.yaml; every other setting is the paper profile's own.
CPU_TRAINING = {"launcher": "accelerate", "accelerate_config": "cpu_2proc", "num_processes": 2,
                "global_batch_size": 4, "micro_batch_size": 2, "save_every": 1}


def overrides(out: Path, standins: dict[str, Path], judge_url: str) -> list[str]:
    values = {
        "run_dir": out / "run", "corpus_dir": out / "corpus",
        "00_overview:tokenizer_path": standins["llm"],
        "01_curation:judge_base_url": judge_url, "01_curation:concurrency": 2,
        "02_packing:comparison_n": 20000, "02_packing:timing_max_n": 20000, "02_packing:timing_budget_s": 0.5,
        "03_model:preset": "infimed-1.7b", "03_model:llm_path": standins["llm"],
        "03_model:vision_path": standins["vision"], "03_model:timing_repeats": 1,
        **{f"04_pretraining:{k}": v for k, v in {**CPU_TRAINING, "micro_batch_size": 1}.items()},
        "04_pretraining:throughput_rows": 2, "04_pretraining:throughput_samples": 4,
        **{f"{nb}:{k}": v for nb in ("05_sft_general", "06_sft_medical", "07_sft_cross_distribution")
           for k, v in CPU_TRAINING.items()},
        **{f"{nb}:{k}": v for nb in ("08_evaluation", "09_ablation_case_studies")
           for k, v in {"judge_base_url": judge_url, "num_threads": 1, "batch_size": 8}.items()},
        "08_evaluation:probe_image_count": 40, "08_evaluation:lookup_questions": 16,
        "08_evaluation:diagnostic_questions": 4, "08_evaluation:attention_prompts": 4,
        **{f"09_ablation_case_studies:{k}": CPU_TRAINING[k] for k in ("launcher", "accelerate_config", "num_processes")},
        # Chapter 10 at a few questions and two GRPO steps; its warm-up traces stand in for the
        # reasoning-trace file a real run brings (write_warmup_traces).
        **{f"10_rl:{k}": v for k, v in {
            "warmup_data": out / "reflective_cot.jsonl", "warmup_per_source": 4, "warmup_batch_size": 4, "heldout_per_source": 6,
            "rl_questions_per_source": 6, "rl_steps": 2, "prompts_per_step": 4, "group_size": 2,
            "updates_per_step": 1, "max_new_tokens": 16, "micro_batch_size": 2, "eval_batch_size": 8,
            "num_threads": 1, "save_every": 1, "example_count": 2,
            **{k: CPU_TRAINING[k] for k in ("launcher", "accelerate_config", "num_processes")}}.items()},
    }
    return [f"{key}={json.dumps(str(value) if isinstance(value, Path) else value)}" for key, value in values.items()]


class JudgeServer(ThreadingHTTPServer):
    """A local stand-in for an OpenAI-compatible server (vLLM, SGLang): curation prompts get five
    dimension scores (seeded by the prompt, so some datasets score lower), open-question prompts a
    ``<judge>`` verdict by comparing the answer with the reference."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]
        prompt = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
        self.server.requests += 1
        if "<judge>" in prompt:
            gold = re.search(r"Reference answer: (.*)", prompt).group(1).strip().lower()
            answer = re.search(r"Model answer: (.*)", prompt).group(1).strip().lower()
            text = f"<judge>{int(bool(answer) and gold in answer)}</judge>"
        else:
            seed = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
            text = json.dumps({key: {"score": 3 + (seed >> i) % 3, "comment": "stand-in judge"}
                               for i, key in enumerate(SCORE_KEYS)})
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def build_standins(out: Path) -> dict[str, Path]:
    """The stand-in model folders, the sources and benchmarks, and the imported corpus."""
    folders = {"llm": paper_standins.qwen_folder(out / "models" / "Qwen3-1.7B"),
               "vision": paper_standins.siglip_folder(out / "models" / "siglip-so400m-patch14-384")}
    spec, _ = paper_standins.sources_file(out / "data")
    if importer.main([str(spec), str(out / "corpus")]) != 0:
        raise SystemExit("paper-smoke: importing the stand-in sources failed")
    return folders


def write_warmup_traces(corpus: Path, path: Path, count: int = 16) -> None:
    """A stand-in for the reasoning-trace file of the paper profile's chapter 10 (schema JSONL):
    the first VQA-RAD training questions, answered with a short check and a boxed answer."""
    rows = []
    with (corpus / "sources" / "vqa-rad.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            sample = json.loads(line)
            answer = sample["conversations"][-1]["value"].strip()
            sample["conversations"][-1]["value"] = (f"Looking at the image first. Wait, let me re-check it. "
                                                    f"The answer is \\boxed{{{answer}}}.")
            rows.append(json.dumps(sample, ensure_ascii=False))
            if len(rows) == count:
                break
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="build/paper_smoke", help="scratch folder (emptied first)")
    parser.add_argument("--only", help="comma-separated chapter numbers, e.g. 00,03 (default: all)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = Path(args.out).resolve()
    if out.exists() and not args.only:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    standins = build_standins(out) if not (out / "corpus" / "manifest.json").exists() else {
        "llm": out / "models" / "Qwen3-1.7B", "vision": out / "models" / "siglip-so400m-patch14-384"}
    write_warmup_traces(out / "corpus", out / "reflective_cot.jsonl")
    server = JudgeServer()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    command = [sys.executable, "-m", "infimed_lib.runner", "run", "--profile", str(ROOT / "profiles" / "paper.yaml"),
               "--output", str(out / "executed")]
    command += [part for value in overrides(out, standins, server.url) for part in ("--set", value)]
    if args.only:
        command += ["--only", args.only]
    environment = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "paper-smoke"),
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    print("$", " ".join(command), flush=True)
    completed = subprocess.run(command, cwd=ROOT, env=environment)
    server.shutdown()
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        print(f"paper-smoke FAILED after {wall:.0f} s (runner exit {completed.returncode})", file=sys.stderr)
        return 1
    timings_file = out / "executed" / "paper" / TIMINGS_FILE
    timings = read_json(timings_file) if timings_file.exists() else {}
    print(f"paper-smoke passed in {wall:.0f} s; judge requests: {server.requests}; chapters (s): {timings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
