"""Chapter tables: one function per table the book shows, built from per-image frames with the
pure metrics of :mod:`tmvlib.metrics` and the map measures of :mod:`tmvlib.explain`.

- ``summary`` (chapter 02), ``uncertainty`` and ``diversity`` (03), ``explanation`` and ``curate`` (04-05);
- ``stability`` and ``trust`` (06): perturbation tables, per-image trust scores, error detection;
- ``trust_cells`` (the cell label and the constant-map rule, shared with the trust card),
  ``quadrants``, ``cases``, ``failure_audit``, ``failure_modes`` (07);
- ``ood`` (08); ``literature``: published numbers quoted by the chapters, with their source.
"""
