"""Runs: the composition root (:func:`lusifer.runs.session.open_session`), the run store, the runner,
estimates, shard merges, progress and exports."""
