"""Test helpers that stand outside the harness: a local OpenAI-compatible server and tiny random models."""
