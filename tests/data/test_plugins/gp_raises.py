"""A plugin whose hook raises at start-up."""

import genosd


@genosd.hookimpl
def genosd_tools(config, context):
    raise RuntimeError("tool registry exploded")
