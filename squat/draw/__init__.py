"""Drawing: the frame overlay, the video's chart band, heatmap blends and the Altair charts.

Imports squat.measure (declarations) and the foundations; never the orchestration.
"""
