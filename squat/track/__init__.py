"""Tracking: framing the lifter for the network, choosing and following the lifter, smoothing the track.

Imports squat.io, squat.pose and the foundations.
"""
