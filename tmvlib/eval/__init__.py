"""Evaluation: discrimination metrics, patient-level bootstrap intervals."""
