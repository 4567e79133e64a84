"""``gate``: is a candidate checkpoint's run worse than a baseline's, beyond what its rules allow? (CI gates)

The two runs are compared on the items both scored (a paired comparison: the candidate's and the
baseline's value of the same item are differenced, which removes the item-difficulty variance a
comparison of two headline numbers carries). For each rule's metric the difference of means
Δ = candidate − baseline gets a 95% paired bootstrap interval, resampling clusters (the two turns of an
MT-Bench question, the pairs cut from one prompt) with replacement. A rule **fails when the interval's
lower end is below −max_drop**: the data cannot rule out a drop larger than allowed. ``max_drop`` is in the
metric's own unit: percentage points for percent metrics (accuracies, win rates, harmless rate), score
points for 1-10 scores (MT-Bench, Safe-RLHF helpfulness).

Without rules the gate checks the benchmark's headline metric(s) (``report.items.HEADLINE``; every track of
a reward-model run) at ``max_drop`` 0: pure non-inferiority, passing only a candidate whose whole interval
is at or above the baseline (identical results, or a clear improvement). That is strict on purpose (a gate
that passes by default protects nothing); a project states its tolerances in a rules file (YAML or JSON)::

    mtbench.overall: {max_drop: 0.15}
    mmlu.acc: {max_drop: 1.0}

or as a list, ``[{metric: mtbench.overall, max_drop: 0.15}, ...]``. One rules file can serve every
benchmark: rules for another benchmark (or another kind of run of it) are skipped and listed. For 0/1
metrics (MMLU, MC1, RM accuracy, harmless rate) McNemar's test on the discordant items is reported too, as
information; the pass/fail decision is the bootstrap's. McNemar ignores clusters.

Refused, as bad input (exit 2): runs that are not comparable (``report.comparability``: other benchmark
version, judge or prompt; ``limit`` is ignored since only shared items are compared), a rule whose metric
a run lacks, a metric that is not a mean over items, no shared items. Exit 0 when every rule passes, 1 on
a regression. A baseline can be a run (id, unique id prefix, folder) or a file written from
:func:`export_run`, so a project can commit its reference run's per-item values under ``results/``.

Modules: ``sides`` (a run or an export as one side; :class:`GateError`), ``rules`` (rules files and the
default rules), ``paired`` (paired bootstrap, McNemar), ``check`` (the gate), ``summary`` (Markdown, rich).
"""

from starling_eval.gate.check import GateResult, RuleResult, evaluate_gate, gate
from starling_eval.gate.paired import mcnemar, paired_bootstrap
from starling_eval.gate.rules import Rule, default_rules, read_rules, rules_from
from starling_eval.gate.sides import GateError, Side, export_run, load_side, side_from_export, side_from_run
from starling_eval.gate.summary import gate_table, markdown_summary, write_step_summary

__all__ = [
    "GateError", "GateResult", "Rule", "RuleResult", "Side", "default_rules", "evaluate_gate", "export_run", "gate",
    "gate_table", "load_side", "markdown_summary", "mcnemar", "paired_bootstrap", "read_rules", "rules_from",
    "side_from_export", "side_from_run", "write_step_summary",
]
