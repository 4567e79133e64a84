from __future__ import annotations

import json

from starling_eval.store.files import append_jsonl, read_jsonl, repair_jsonl, write_json_atomic


def test_torn_last_line_is_dropped_and_repaired(tmp_path):
    path = tmp_path / "g.jsonl"
    append_jsonl(path, [{"a": 1}, {"a": 2}])
    with open(path, "a") as fh:
        fh.write('{"a": 3, "tex')  # a kill mid-write
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    assert repair_jsonl(path) == 2
    append_jsonl(path, [{"a": 3}])
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_corruption_in_the_middle_is_not_hidden(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 3}\n')
    try:
        read_jsonl(path)
    except json.JSONDecodeError:
        return
    raise AssertionError("a broken middle line must raise")


def test_atomic_json_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "m.json", {"x": 1})
    write_json_atomic(tmp_path / "m.json", {"x": 2})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
