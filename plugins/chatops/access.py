"""Who may do what from a chat: grants over platform, team, channel, user and command."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from genosd.plugin import Role
from plugins.chatops.settings import Grant

_ORDER = {"viewer": 0, "operator": 1, "admin": 2}


@dataclass(frozen=True)
class ChatUser:
    """Where a request came from, as the chat platform says (verified by its signature)."""

    platform: str
    team: str
    channel: str
    user_id: str
    user_name: str

    @property
    def actor(self) -> str:
        """The audit log's actor: platform:user."""
        return f"{self.platform}:{self.user_name or self.user_id}"


def role_for(grants: list[Grant], who: ChatUser, command: str) -> Role | None:
    """The highest role the grants give `who` for `command`; None: refused (the default)."""
    best: str | None = None
    for grant in grants:
        if grant.platform not in ("*", who.platform):
            continue
        if not fnmatch.fnmatchcase(who.team, grant.team):
            continue
        if not _any(grant.channel, who.channel):
            continue
        if not _any(grant.user, who.user_id, who.user_name):
            continue
        if not any(fnmatch.fnmatchcase(command, c) for c in grant.commands):
            continue
        if best is None or _ORDER[grant.role] > _ORDER[best]:
            best = grant.role
    return Role(best) if best is not None else None


def _any(glob: str, *values: str) -> bool:
    return any(fnmatch.fnmatchcase(v, glob) for v in values if v)
