import numpy as np

from squat.series import fill_gaps, rep_spans, true_runs


def test_true_runs_include_runs_at_both_edges():
    starts, stops = true_runs(np.array([True, True, False, True, False, False, True]))
    assert starts.tolist() == [0, 3, 6] and stops.tolist() == [2, 4, 7]
    starts, stops = true_runs(np.zeros(4, bool))
    assert starts.size == stops.size == 0


def test_rep_spans_are_first_and_last_times_of_each_numbered_run():
    times = np.arange(8) / 10
    reps = np.array([0, 1, 1, 1, 0, 2, 2, 0])
    assert rep_spans(times, reps) == [(1, 0.1, 0.3), (2, 0.5, 0.6)]


def test_gaps_fill_up_to_max_gap_and_edges_only_when_held():
    x = np.arange(10.0)
    values = np.array([np.nan, 1, np.nan, 3, np.nan, np.nan, np.nan, 7, 8, np.nan])
    short = fill_gaps(values, x, max_gap=2)
    np.testing.assert_array_equal(short, [np.nan, 1, 2, 3, np.nan, np.nan, np.nan, 7, 8, np.nan])
    held = fill_gaps(values, x, hold_edges=True)
    np.testing.assert_array_equal(held, [1, 1, 2, 3, 4, 5, 6, 7, 8, 8])
    assert np.isnan(fill_gaps(np.full(3, np.nan), x[:3], hold_edges=True)).all()
    np.testing.assert_array_equal(fill_gaps(np.array([np.nan, 5.0, np.inf]), x[:3], hold_edges=True), [5, 5, 5])
