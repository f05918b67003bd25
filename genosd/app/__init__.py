"""The application layer: one runtime and the workflows every adapter (HTTP, CLI, ChatOps) calls.

snapshot.py   settings + inventory as one immutable, validated unit
core.py       the services workflows use (state db, events, history, host keys, status)
runtime.py    the daemon: core + metrics pipeline, pollers, jobs, plugins, in start/stop order
reload.py     SIGHUP / settings import: a new snapshot applied while running
jobs.py       the one scheduler for core loops and plugin jobs
backups.py, facts.py, changes.py, hostkeys.py, polling.py   the workflows
"""
