"""The open-question judge against a reasoning model's endpoint (Chapter 08): ``temperature`` can be
left out, and a request the server rejects stops the evaluation once, with the server's message."""
from __future__ import annotations

import pytest

from infimed_lib.common import ParameterError
from infimed_lib.eval import JudgeRejected, make_open_judge, score_items
from eval_items import make_item
from judge_server import REJECTION, ReasoningServer

OPEN = [make_item(id=f"q{i}", answer="left lung", question_type="open") for i in range(4)]


@pytest.mark.parametrize("rules", ["strict", "medevalkit"])
def test_temperature_left_out_reaches_a_reasoning_model(rules):
    with ReasoningServer() as server:
        judge = make_open_judge(server.url, "o3", api_key_env="", temperature=None, max_retries=0)
        records = score_items(OPEN, ["the upper part of the left lung"] * 4, rules=rules, judge=judge)
    assert [r["verdict"] for r in records] == ["correct"] * 4 and [r["judge"] for r in records] == [True] * 4
    assert len(server.bodies) == 4 and all("temperature" not in body for body in server.bodies)
    assert judge.stats()["failures"] == 0


def test_a_rejected_request_stops_the_run_once_with_the_servers_message():
    with ReasoningServer() as server:
        judge = make_open_judge(server.url, "o3", api_key_env="", max_retries=3)  # temperature 0 is sent
        with pytest.raises(JudgeRejected, match="HTTP 400") as info:
            score_items(OPEN, ["left upper lung"] * 4, judge=judge)
        assert REJECTION[:40] in str(info.value) and "judge_temperature=None" in str(info.value)
        assert len(server.bodies) == 1 and server.bodies[0]["temperature"] == 0.0  # not retried
        with pytest.raises(JudgeRejected):  # later calls fail the same way without asking again
            judge("Q?", "a", "b")
        assert len(server.bodies) == 1


def test_judge_settings_are_checked():
    with pytest.raises(ParameterError, match="judge_temperature"):
        make_open_judge("http://127.0.0.1:9/v1", "o3", api_key_env="", temperature=-1)
    with pytest.raises(ParameterError, match="judge_temperature"):
        make_open_judge("http://127.0.0.1:9/v1", "o3", api_key_env="", temperature="default")
