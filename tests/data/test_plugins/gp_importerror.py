"""A plugin whose import fails."""

raise ImportError("No module named 'pysnmp_turbo'")
