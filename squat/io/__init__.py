"""Video in and out: probing, decoding upright frames (PyAV), writing H.264.

Imports only the foundations (squat.errors, squat.settings, squat.skeleton).
"""
