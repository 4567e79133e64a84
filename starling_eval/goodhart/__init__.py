"""Goodhart checks: how far an automatic judge agrees with the humans it stands in for."""

HUMAN_VOTES = "mt_bench_human/human.jsonl"  # lmsys/mt_bench_human_judgments, split human
GPT4_VOTES = "mt_bench_human/gpt4_pair.jsonl"  # the same dataset's gpt4_pair split
