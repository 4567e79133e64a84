"""Benchmark adapters: data, prompts and scoring of one benchmark each; no HTTP, threads or file writes."""
