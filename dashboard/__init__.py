"""The Streamlit dashboard: its pages, sidebar, session state, cached resources and presenters (app.py runs dashboard.app).

Beside the engine: imports squat, never imported by it.
"""
