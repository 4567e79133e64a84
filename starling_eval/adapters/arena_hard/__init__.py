"""Arena-Hard-Auto: the benchmark (``benchmark``: prompts, judge requests in both orders), how its judge's labels
read (``verdicts``), its battles, Bradley-Terry scores and style control (``score``, ``style``), and the run's
scores and upstream judgment files (``results``)."""

from starling_eval.adapters.arena_hard.benchmark import ArenaHard


def ArenaHardV01() -> ArenaHard:  # noqa: N802 - the registry instantiates by name
    return ArenaHard("0.1")


def ArenaHardV20() -> ArenaHard:  # noqa: N802
    return ArenaHard("2.0")


__all__ = ["ArenaHard", "ArenaHardV01", "ArenaHardV20"]
