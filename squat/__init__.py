"""Squat form check: pose estimation, kinematics and rep analysis of a squat clip."""

__version__ = "0.1.0"
