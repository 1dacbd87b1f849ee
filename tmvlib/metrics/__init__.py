"""Pure metrics on arrays: no model, no file, no chapter.

- ``discrimination``: AUROC, average precision, operating thresholds, confusion counts;
- ``calibration/``: NLL, Brier, ECE, MCE and the reliability table, one metric per file;
- ``selective``: risk-coverage curves, AURC and AUGRC for selective prediction;
- ``bootstrap``: patient-level bootstrap intervals of any metric (and of paired differences);
- ``subgroups``: a metric per subgroup with its interval;
- ``diversity``: per-image disagreement, spread and NLL gain of an ensemble's members;
- ``frames``: the column check shared by functions that take a DataFrame.

Every metric takes ``labels (N,)`` in {0, 1} and scores or probabilities ``(N,)``, accepts a
``sample_weight`` where a bootstrap needs it, and raises ``ValueError`` on bad input.
"""
