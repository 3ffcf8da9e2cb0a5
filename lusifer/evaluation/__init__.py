"""Evaluation: fidelity metrics, collaborative-filtering baselines, calibration and reports."""
