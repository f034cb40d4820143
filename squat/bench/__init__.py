"""Speed, measured side by side in one run (`python -m squat bench`): the article's pipeline as the
baseline (article.py) against ours, stage by stage (run.py).
May import every engine layer up to the orchestrator (it runs the pipeline like any user)."""
