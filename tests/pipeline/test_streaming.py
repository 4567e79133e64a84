"""The streaming pipeline: no turn barrier. A sample's turn 2 goes to the server the moment its own turn 1 is
back, while another sample's slow turn 1 is still out, and the concurrency limit still holds."""

from __future__ import annotations

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
    import json

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
