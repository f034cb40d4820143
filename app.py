"""Squat form check: the Streamlit dashboard. Run with `streamlit run app.py`.

A thin entry point: the pages, sidebar, session state and presenters live in dashboard/ (session
state keys are documented in dashboard/state.py), the numbers, pictures and charts come from squat/,
and analyses are kept by squat.store.ResultsStore under $SQUAT_DATA_DIR (default ~/.squat-form-check).
Streamlit puts this file's folder on sys.path, so `dashboard` imports from the repository root.
"""
from dashboard.app import main

main()
