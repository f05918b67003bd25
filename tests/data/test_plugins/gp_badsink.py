"""A plugin whose sink fails on every event."""

from genosd.plugin import Sink, hookimpl


@hookimpl
def genosd_sinks(config, context):
    async def on_event(topic, data):
        raise ValueError(f"cannot handle {topic}")

    return [Sink("always_fails", topics=("device.status",), on_event=on_event)]
