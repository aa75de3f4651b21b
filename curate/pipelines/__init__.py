"""Running stages: the run workspace and its markers, executors, the stage runner."""
