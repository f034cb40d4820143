import numpy as np

from squat.series import rep_spans, true_runs


def test_true_runs_include_runs_at_both_edges():
    starts, stops = true_runs(np.array([True, True, False, True, False, False, True]))
    assert starts.tolist() == [0, 3, 6] and stops.tolist() == [2, 4, 7]
    starts, stops = true_runs(np.zeros(4, bool))
    assert starts.size == stops.size == 0


def test_rep_spans_are_first_and_last_times_of_each_numbered_run():
    times = np.arange(8) / 10
    reps = np.array([0, 1, 1, 1, 0, 2, 2, 0])
    assert rep_spans(times, reps) == [(1, 0.1, 0.3), (2, 0.5, 0.6)]
