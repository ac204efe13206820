"""6. Writing to Asana, exactly once: creates, updates, removals and comments through one worker
pool, recovery of unclear outcomes, and the run's report."""
