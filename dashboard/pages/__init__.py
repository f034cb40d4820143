"""The dashboard's pages: one analysis (results.py), its comparison with a reference lifter (compare.py), welcome.py.

They import the dashboard's state, resources and presenters and the engine (squat); dashboard.app imports them.
"""
