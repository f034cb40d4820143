"""Measuring: the plate and bar, the body (side, bones), kinematics, reps and faults.

Imports squat.track and the layers below it; never the drawing, results or orchestration.
"""
