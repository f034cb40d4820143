"""The Streamlit dashboard's presenters: pure helpers that turn results into what the pages show.

Beside the engine: imports squat, never imported by it.
"""
