"""The one exception tree of genosd.

    GenosdError
    ├── ConfigError            bad settings, inventory or other user-supplied files (exit 78)
    │   └── InventoryError
    ├── PluginError            a plugin failed to load, validate or run its hooks
    ├── NotFoundError          a named object (device, version, run …) does not exist
    ├── InvalidRequestError    an API body or CLI argument does not validate
    ├── ConflictError          the request collides with work in progress (409)
    ├── AccessError            the API caller may not do this
    │   ├── AuthenticationError  no key, or a malformed, unknown, revoked or expired one (401)
    │   ├── PermissionDenied     the key's role is too low (403)
    │   └── RateLimited          the key sent too many requests (429)
    ├── DeviceError            talking to a device failed (turned into per-host results, never raised past a task)
    │   ├── DeviceTimeout
    │   └── DeviceProtocolError  the device answered something that does not fit the protocol or MIB
    └── SinkError              a metrics backend refused or could not be reached

Library exceptions are translated into these at the edge where the library is called.
"""

from __future__ import annotations

EX_CONFIG = 78  # sysexits.h: configuration error; systemd RestartPreventExitStatus=78


class GenosdError(Exception):
    """Root of every error genosd raises on purpose."""


class ConfigError(GenosdError):
    """A settings, inventory or other user-supplied file is invalid."""

    def __init__(
        self, message: str, *, source: str | None = None, problems: list[str] | None = None
    ):
        self.source = source
        self.problems = problems or []
        text = message if not source else f"{source}: {message}"
        if self.problems:
            text += "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class InventoryError(ConfigError):
    """The inventory files are invalid."""


class PluginError(GenosdError):
    """A plugin failed to load, validate its settings or run a hook."""


class NotFoundError(GenosdError):
    """A named object does not exist."""


class InvalidRequestError(GenosdError):
    """A request body or argument failed validation."""

    def __init__(self, message: str, details: object = None):
        super().__init__(message)
        self.details = details


class ConflictError(GenosdError):
    """The request collides with work already in progress."""


class NotManagedError(ConflictError):
    """The device lacks the settings this needs (SSH for configs and facts, SNMP for polls)."""

    def __init__(self, device: str, missing: str, setting: str):
        super().__init__(
            f"{device} has no {missing} settings: set {setting} for it "
            "(on the host, one of its groups, or defaults) and reload"
        )
        self.device = device
        self.missing = missing


class AccessError(GenosdError):
    """The API caller may not do this."""


class AuthenticationError(AccessError):
    """No usable API key."""


class PermissionDenied(AccessError):
    """The caller's role is too low."""


class RateLimited(AccessError):
    """The caller sent too many requests; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class DeviceError(GenosdError):
    """Talking to a device failed."""


class DeviceTimeout(DeviceError):
    """The device did not answer in time."""


class DeviceProtocolError(DeviceError):
    """The device answered with something that does not fit the protocol or the MIB."""


class SinkError(GenosdError):
    """A metrics backend refused the data or could not be reached."""
