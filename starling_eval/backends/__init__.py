"""Backends turn conversations into completions (hf, openai-compatible, vllm). They know no benchmark."""
