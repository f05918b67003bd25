"""A plugin implementing a hook that does not exist (caught by pluggy's check_pending)."""

import genosd


@genosd.hookimpl
def genosd_not_a_hook():
    return []
