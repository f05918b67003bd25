"""A plugin whose sink fails on every event."""

import genosd
from genosd.pluginhost.contract import Sink


@genosd.hookimpl
def genosd_sinks(config, context):
    async def on_event(topic, data):
        raise ValueError(f"cannot handle {topic}")

    return [Sink("always_fails", topics=("device.status",), on_event=on_event)]
