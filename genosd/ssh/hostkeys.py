"""SSH host keys pinned per device: recorded on first contact, then enforced.

Keys live in `<state_dir>/ssh/known_hosts` in OpenSSH format (`[host]:port type base64`), the same
file paramiko (netmiko, NAPALM) is then told to enforce, so the key checked here is the key the
real session must present. Policy `accept-new` records an unknown key on first contact (like
OpenSSH's StrictHostKeyChecking=accept-new); `strict` refuses it until `genosd inventory trust`.
A changed key is always refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import paramiko

from genosd.errors import DeviceError

Policy = Literal["accept-new", "strict"]


class HostKeyError(DeviceError):
    """The device's SSH host key is unknown (strict policy) or changed."""


@dataclass(frozen=True)
class HostKeyCheck:
    """The outcome of checking one device's key."""

    host: str
    port: int
    key: str
    status: Literal["known", "recorded", "changed", "unknown"]
    pinned: str | None = None


def known_hosts_path(state_dir: Path) -> Path:
    """The pinned keys of the daemon's devices."""
    return state_dir / "ssh" / "known_hosts"


def entry_name(host: str, port: int) -> str:
    """The known_hosts host field."""
    return host if port == 22 else f"[{host}]:{port}"


def fetch_host_key(host: str, port: int, timeout: float = 10.0) -> str:
    """The key the server presents, as `type base64` (no authentication is attempted)."""
    try:
        transport = paramiko.Transport((host, port))
    except (paramiko.SSHException, OSError) as exc:
        raise DeviceError(f"cannot read the SSH host key of {host}:{port}: {exc}") from exc
    try:
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        return f"{key.get_name()} {key.get_base64()}"
    except (paramiko.SSHException, OSError) as exc:
        raise DeviceError(f"cannot read the SSH host key of {host}:{port}: {exc}") from exc
    finally:
        transport.close()


class KnownHosts:
    """The pinned keys; safe to use from worker threads."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        # the file parsed, and the (mtime, size, inode) it was parsed at: thousands of devices
        # look their key up without reading the whole file each time
        self._cache: tuple[tuple[int, int, int], dict[str, str]] | None = None

    def _entries(self) -> dict[str, str]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        cached = self._cache
        if cached is not None and cached[0] == stamp:
            return dict(cached[1])
        entries: dict[str, str] = {}
        for line in self.path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#"):
                entries[parts[0]] = f"{parts[1]} {parts[2]}"
        self._cache = (stamp, entries)
        return dict(entries)

    def pinned(self, host: str, port: int) -> str | None:
        """The recorded key of host:port."""
        return self._entries().get(entry_name(host, port))

    def record(self, host: str, port: int, key: str, *, replace: bool = False) -> None:
        """Pin `key` for host:port (replacing an old one only when asked to)."""
        with self._lock:
            entries = self._entries()
            name = entry_name(host, port)
            if name in entries and not replace:
                return
            entries[name] = key
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(f"{n} {k}\n" for n, k in sorted(entries.items())))
            tmp.replace(self.path)

    def check(self, host: str, port: int, policy: Policy, timeout: float = 10.0) -> HostKeyCheck:
        """Compare the presented key with the pinned one; records it under accept-new."""
        key = fetch_host_key(host, port, timeout)
        pinned = self.pinned(host, port)
        if pinned == key:
            return HostKeyCheck(host, port, key, "known", pinned)
        if pinned is not None:
            return HostKeyCheck(host, port, key, "changed", pinned)
        if policy == "accept-new":
            self.record(host, port, key)
            return HostKeyCheck(host, port, key, "recorded")
        return HostKeyCheck(host, port, key, "unknown")

    def ensure_pinned(self, host: str, port: int, policy: Policy, timeout: float = 10.0) -> None:
        """Before a session opens: enforce() for a device with no pinned key; a pinned key needs
        no scan of its own, since the session itself refuses any other (paramiko strict,
        scrapli's strict known_hosts)."""
        if self.pinned(host, port) is None:
            self.enforce(host, port, policy, timeout)

    def enforce(self, host: str, port: int, policy: Policy, timeout: float = 10.0) -> HostKeyCheck:
        """check(), raising HostKeyError for a changed key or an unknown one under strict."""
        result = self.check(host, port, policy, timeout)
        if result.status == "changed":
            raise HostKeyError(
                f"SSH host key of {entry_name(host, port)} CHANGED (pinned {_short(result.pinned)},"
                f" presented {_short(result.key)}): refusing to connect. If the device was really"
                " replaced, run `genosd inventory trust --replace`"
            )
        if result.status == "unknown":
            raise HostKeyError(
                f"SSH host key of {entry_name(host, port)} is not pinned and the policy is strict;"
                " run `genosd inventory trust` first"
            )
        return result


def _short(key: str | None) -> str:
    return "none" if key is None else f"{key.split()[0]} …{key.split()[-1][-12:]}"
