"""genosd: one daemon for network polling, config lifecycle, playbooks and AI plugins."""

__version__ = "0.1.0"
