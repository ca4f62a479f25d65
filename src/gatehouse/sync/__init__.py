"""Sync runs, checkpoints, deletion detection, schedules and the worker that runs them."""
