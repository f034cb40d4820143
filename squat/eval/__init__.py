"""Evaluation against truth: rendered truth, eye labels, whole sets (`python -m squat evaluate`).

Reads the written results like any user; imports only squat.errors and squat.settings.
"""
