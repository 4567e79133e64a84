"""AlpacaEval 1 and 2: the benchmark (``benchmark``), alpaca_eval's annotators and how their replies read
(``annotators``), the judge requests (``judge``), generation settings (``models``), the leaderboard metrics
(``score``), and the installed alpaca_eval package used quietly (``alpaca_eval_lib``)."""

from starling_eval.adapters.alpacaeval.benchmark import AlpacaEval

__all__ = ["AlpacaEval"]
