"""Offline training, evaluation and model cards (never imported by the running app; ``assist.app`` wires the commands)."""
