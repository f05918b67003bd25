"""genosd: one daemon for network polling, config lifecycle, playbooks and AI plugins."""

import pluggy

__version__ = "0.1.0"

hookspec = pluggy.HookspecMarker("genosd")
"""Marks the hook specifications (genosd.pluginhost.contract)."""

hookimpl = pluggy.HookimplMarker("genosd")
"""Marks a plugin's hook implementations: `@genosd.hookimpl def genosd_tools(config, context): …`."""
