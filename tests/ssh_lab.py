"""A small SSH lab for tests: IOS routers on loopback ports, restartable with a new host key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import yaml

from genosd.lab.eos_device import EosDevice
from genosd.lab.ios_config import RunningConfig
from genosd.lab.ios_device import IosDevice, Neighbor
from genosd.lab.junos_device import JunosDevice
from genosd.lab.ssh_server import SimulatedDevice, start_ssh_device
from genosd.lab.topology import LAB_DATA, NODES, build_device, inventory_hosts
from genosd.platforms import platform as platform_named
from genosd.ssh.target import SshTarget
from tests.servers import free_tcp_port

BASE = """version 15.6
service timestamps debug datetime msec
hostname {name}
ip domain name lab.genosd.invalid
enable secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM
username admin privilege 15 secret 9 $9$oNguEA9um9vRx.$MsDk0DOy1rzBjKAcySWdNjoKcA7GetG9YNnKOs8S67A
snmp-server community s3cret-community RO
interface Loopback0
 ip address 10.255.0.{n} 255.255.255.255
interface GigabitEthernet0/0
 description to {peer} Gi0/0
 ip address 10.0.12.{n} 255.255.255.252
interface GigabitEthernet0/1
 shutdown
line vty 0 4
 transport input ssh
"""
USER, PASSWORD, SECRET = "admin", "admin-pass", "enable-pass"


@dataclass
class Lab:
    """Routers r1 and r2 linked Gi0/0 <-> Gi0/0."""

    directory: Path
    sims: dict[str, SimulatedDevice] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    servers: dict[str, asyncssh.SSHAcceptor] = field(default_factory=dict)

    async def start(self, devices: list[IosDevice | JunosDevice] | None = None) -> None:
        """Serve `devices` (default: the routers r1 and r2) on free loopback ports."""
        if devices is None:
            devices = []
            for n, (name, peer) in enumerate((("r1", "r2"), ("r2", "r1")), start=1):
                router = IosDevice(
                    name, config=RunningConfig.parse(BASE.format(name=name, peer=peer, n=n))
                )
                router.neighbors.append(
                    Neighbor(
                        "GigabitEthernet0/0",
                        peer,
                        "GigabitEthernet0/0",
                        f"10.255.0.{3 - n}",
                        f"5254.0000.000{3 - n}",
                    )
                )
                devices.append(router)
        for device in devices:
            name = device.name
            self.sims[name] = SimulatedDevice(
                device,
                USER,
                PASSWORD,
                SECRET,
                asyncssh.generate_private_key("ssh-ed25519"),
                self.directory / f"{name}.faults.json",
            )
            self.ports[name] = free_tcp_port()
            await self._listen(name)

    async def _listen(self, name: str) -> None:
        self.servers[name] = await start_ssh_device(self.sims[name], "127.0.0.1", self.ports[name])

    async def replace_host_key(self, name: str) -> None:
        """Restart one device's SSH server with a new host key (a swapped chassis, or an attack)."""
        await self.stop(name)
        self.sims[name].host_key = asyncssh.generate_private_key("ssh-ed25519")
        await self._listen(name)

    async def stop(self, name: str) -> None:
        server = self.servers.pop(name)
        server.close()
        await server.wait_closed()

    async def close(self) -> None:
        for name in list(self.servers):
            await self.stop(name)

    def target(self, name: str, **extra) -> SshTarget:
        platform = self.sims[name].device.platform
        return SshTarget(
            name,
            "127.0.0.1",
            self.ports[name],
            platform_named(platform),
            USER,
            PASSWORD,
            SECRET,
            **extra,
        )


def write_setup(
    directory: Path,
    ports: dict[str, int],
    settings: str = "",
    configs: str = "",
    templates: Path | None = None,
) -> tuple[Path, Path]:
    """Settings, secrets and an inventory whose data describes the lab's intended configs.

    `configs` is appended inside the `configs:` mapping (", post_checks: [...]").
    Returns (settings file, secrets dir). Rendered with the shipped ios templates, the intent
    differs from the lab's running configs (AAA, NTP, SNMP location …), so a first plan has work.
    """
    inventory = directory / "inventory"
    inventory.mkdir()
    hosts = ""
    for n, (name, port) in enumerate(sorted(ports.items()), start=1):
        peer = "r2" if name == "r1" else "r1"
        hosts += f"""{name}:
  hostname: 127.0.0.1
  platform: ios
  data:
    ssh: {{port: {port}}}
    site: lab
    interfaces:
      Loopback0: {{address: 10.255.0.{n}/32}}
      GigabitEthernet0/0: {{description: to {peer} Gi0/0, address: 10.0.12.{n}/30}}
      GigabitEthernet0/1: {{shutdown: true}}
"""
    (inventory / "hosts.yaml").write_text(hosts)
    (inventory / "defaults.yaml").write_text(
        "data:\n"
        "  ssh: {credential: lab, timeout: 10}\n"
        "  snmp: {credential: lab, port: 9, timeout: 0.2, retries: 0, interval: 3600}\n"
        "  domain: lab.genosd.invalid\n"
        "  ntp_servers: [10.255.255.1, 10.255.255.2]\n"
        "  snmp_contact: noc@lab.genosd.invalid\n"
    )
    config, secrets = _write_settings(directory, inventory, templates, configs, settings)
    (secrets / "credentials__lab__community").write_text("s3cret-community")
    return config, secrets


def _write_settings(
    directory: Path, inventory: Path, templates: Path | None, configs: str, settings: str
) -> tuple[Path, Path]:
    """genosd.yaml and the `lab` SSH credential's secrets for a test lab."""
    secrets = directory / "secrets"
    secrets.mkdir()
    (secrets / "ssh_credentials__lab__password").write_text(PASSWORD)
    (secrets / "ssh_credentials__lab__enable_secret").write_text(SECRET)
    templates = templates or Path(__file__).parent.parent / "templates"
    config = directory / "genosd.yaml"
    config.write_text(
        f"state_dir: {directory / 'state'}\ninventory_dir: {inventory}\n"
        f"ssh_credentials: {{lab: {{username: {USER}}}}}\n"
        f"configs: {{templates_dir: {templates}{configs}}}\n{settings}"
    )
    return config, secrets


def write_topology_setup(
    directory: Path, ports: dict[str, int], settings: str = "", configs: str = ""
) -> tuple[Path, Path]:
    """Settings, secrets and inventory for the four-platform lab (genosd/lab/topology.py)."""
    inventory = directory / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text(yaml.safe_dump(inventory_hosts(ports, "lab")))
    (inventory / "defaults.yaml").write_text(
        yaml.safe_dump({"data": {**LAB_DATA, "ssh": {"timeout": 10}}})
    )
    return _write_settings(directory, inventory, None, configs, settings)


def topology_devices(minute: float = 60.0) -> list[IosDevice | JunosDevice]:
    """The four-platform lab's devices; the minute of Junos's `commit confirmed` and of EOS's
    `commit timer` shortened to `minute` s."""
    devices = [build_device(node) for node in NODES]
    for device in devices:
        if isinstance(device, JunosDevice | EosDevice):
            device.minute = minute
    return devices
