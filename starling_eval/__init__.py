"""starling-eval: an evaluation harness for chat LLMs and reward models (see README.md and DESIGN.md)."""

__version__ = "0.1.0"
