"""Playbooks: reviewed YAML workflows over devices (docs/playbooks.md)."""
