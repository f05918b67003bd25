"""A plugin whose hook raises at start-up."""

from genosd.plugin import hookimpl


@hookimpl
def genosd_tools(config, context):
    raise RuntimeError("tool registry exploded")


@hookimpl
def genosd_cli(open_plugin):
    raise RuntimeError("no commands today")
