"""The streaming pipeline: no turn barrier. A sample's turn 2 goes to the server the moment its own turn 1 is
back, while another sample's slow turn 1 is still out, and the concurrency limit still holds."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from starling_eval import pipeline
from starling_eval.spec import ModelSpec, RunSpec
from starling_eval.testing.server import Behaviour, serve

SLOW_S = 1.5


class Recorder:
    """The server's reply function: logs when each (question, turn) arrives and leaves; the first question's
    turn 1 is slow; and the peak number of requests in flight."""

    def __init__(self, slow_question: str):
        self.slow = slow_question
        self.events: list[tuple[float, str, str, int]] = []
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0

    def __call__(self, messages: list[dict]) -> str:
        users = [m["content"] for m in messages if m["role"] == "user"]
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.events.append((time.monotonic(), "in", users[0][:40], len(users)))
        if len(users) == 1 and users[0] == self.slow:
            time.sleep(SLOW_S)
        with self.lock:
            self.in_flight -= 1
            self.events.append((time.monotonic(), "out", users[0][:40], len(users)))
        return f"answer to turn {len(users)}"

    def at(self, kind: str, question: str, turn: int) -> float:
        return next(t for t, k, q, n in self.events if (k, q, n) == (kind, question[:40], turn))


def test_a_samples_turn_two_does_not_wait_for_another_samples_turn_one(tmp_path, data_dir):
    questions = [json.loads(line) for line in (data_dir / "mt_bench" / "question.jsonl").read_text().splitlines()][:4]
    recorder = Recorder(questions[0]["turns"][0])
    server = serve(behaviour=Behaviour(reply_fn=recorder))
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        spec = RunSpec(benchmark="mtbench", data_dir=str(data_dir), limit=4, max_new_tokens=16,
                       model=ModelSpec(backend="openai", name_or_path="m", base_url=base_url, concurrency=2))
        result = pipeline.generate(spec, Path(tmp_path))
    finally:
        server.shutdown()
    assert result.counts["generated"] == 8 and result.manifest["status"] == "complete"
    slow_back = recorder.at("out", questions[0]["turns"][0], 1)
    for q in questions[1:]:  # every other sample finished both turns while the slow turn 1 was out
        assert recorder.at("out", q["turns"][0], 2) < slow_back
    assert recorder.peak == 2  # --concurrency 2: one slot held by the slow call, the other kept busy
    rows = [json.loads(line) for line in (result.run.path / "generations.jsonl").read_text().splitlines()]
    assert [(r["item_id"], r["turn"]) for r in rows] == [(str(q["question_id"]), t) for q in questions for t in (1, 2)]


class Clock:
    """A reply function that notes when each request arrives (the model's and the judge's servers)."""

    def __init__(self, reply: str, delay_s: float):
        self.reply, self.delay_s, self.arrivals = reply, delay_s, []

    def __call__(self, messages: list[dict]) -> str:
        self.arrivals.append(time.monotonic())
        time.sleep(self.delay_s)
        return self.reply


def test_judging_starts_while_the_model_is_still_answering_and_scores_the_same(tmp_path, data_dir):
    from starling_eval.spec import JudgeSpec

    model_clock, judge_clock = Clock("An answer.", 0.05), Clock("Rating: [[7]]", 0.05)
    model_server = serve(behaviour=Behaviour(reply_fn=model_clock))
    judge_server = serve(behaviour=Behaviour(reply_fn=judge_clock))
    try:
        def spec(conc: int) -> RunSpec:
            url = f"http://127.0.0.1:{model_server.server_address[1]}/v1"
            judge_url = f"http://127.0.0.1:{judge_server.server_address[1]}/v1"
            return RunSpec(benchmark="mtbench", data_dir=str(data_dir), limit=12, max_new_tokens=16,
                           model=ModelSpec(backend="openai", name_or_path="m", base_url=url, concurrency=conc),
                           judge=JudgeSpec(model="j", base_url=judge_url, api_key_env="STARLING_EVAL_TEST_NO_KEY"))
        overlapped = pipeline.evaluate(spec(2), tmp_path / "overlapped")
        first_judgment, last_answer = min(judge_clock.arrivals), max(model_clock.arrivals)
        sequential = pipeline.evaluate(spec(3), tmp_path / "sequential", overlap=False)
        assert min(judge_clock.arrivals[24:]) > max(model_clock.arrivals[24:])  # after: the old order
    finally:
        model_server.shutdown()
        judge_server.shutdown()
    assert first_judgment < last_answer - 0.5  # 24 answers, 2 at a time, 50 ms each: judging began early on
    assert overlapped.judging["counts"]["called"] == sequential.judging["counts"]["called"] == 24
    assert overlapped.scores["models"][0]["overall"] == sequential.scores["models"][0]["overall"] == 7.0
    assert overlapped.manifest["status"] == "complete"
    rows = [json.loads(line) for line in (overlapped.run.path / "judgments.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"single|m|{q}|{t}" for q in range(81, 93) for t in (1, 2)]


def test_a_kill_while_both_generating_and_judging_loses_nothing_and_pays_little_twice(tmp_path, data_dir,
                                                                                     server_factory):
    """kill -9 with answers and judgments both in flight, then the same command again: the scores of a run never
    killed; each answer and judgment the harness stored is not paid again (only calls in flight at the kill)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import cli_env, run_cli

    def args(model: str, judge: str) -> list[str]:
        return ["run", "mtbench", "--json", "--model", "m", "--base-url", model, "--limit", "20", "--concurrency",
                "2", "--judge-base-url", judge, "--judge-concurrency", "2", "--max-new-tokens", "16"]

    reference = run_cli("--results", str(tmp_path / "ref"),
                        *args(server_factory("--reply", "An answer.").base_url,
                              server_factory("--random-verdicts", "single", "--seed", "4").base_url),
                        env=cli_env(data_dir))
    assert reference.returncode == 0, reference.stderr
    model = server_factory("--reply", "An answer.", "--latency-ms", "60")
    judge = server_factory("--random-verdicts", "single", "--seed", "4", "--latency-ms", "60")
    results = tmp_path / "killed"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("starling-eval")), "--results", str(results),
                             *args(model.base_url, judge.base_url)], env=cli_env(data_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120

    def lines(name: str) -> int:
        files = list(results.glob(f"runs/*/{name}"))
        return sum(1 for line in files[0].read_text().splitlines() if line.strip()) if files else 0

    while not (lines("judgments.jsonl") >= 4 and lines("generations.jsonl") >= 8):
        assert proc.poll() is None and time.time() < deadline, "finished before it could be killed"
        time.sleep(0.01)
    assert lines("generations.jsonl") < 40  # still answering: the kill lands in the overlap
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = run_cli("--results", str(results), *args(model.base_url, judge.base_url), env=cli_env(data_dir))
    assert resumed.returncode == 0, resumed.stderr
    out, ref = json.loads(resumed.stdout), json.loads(reference.stdout)
    assert out["models"] == ref["models"] and out["status"] == "complete"
    for server, distinct in ((model, 40), (judge, 40)):
        stats = server.stats()
        assert stats["distinct_served"] == distinct
        assert stats["duplicate_served"] <= 2  # at most the calls in flight when the kill landed (2 each side)
