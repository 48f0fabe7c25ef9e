"""Checkpoints, run directories and figures (floor 3)."""
