"""Squat form check: pose estimation, kinematics and rep analysis of a squat clip."""
import os

# OpenMP threads that spin while waiting make two busy processes on a small machine (two
# users of the app, the app beside a test run) 10-15x slower each; sleeping threads cost a
# few percent alone. Set before torch is imported; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
