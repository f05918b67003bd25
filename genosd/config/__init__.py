"""The configuration lifecycle: backup, history, render, validate, diff, deploy, roll back."""
