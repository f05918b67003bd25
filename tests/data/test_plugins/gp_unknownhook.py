"""A plugin implementing a hook that does not exist (caught by pluggy's check_pending)."""

from genosd.plugin import hookimpl


@hookimpl
def genosd_not_a_hook():
    return []
