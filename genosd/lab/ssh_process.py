"""The SSH half of `genosd lab up`: serve the topology's devices until SIGTERM.

    python -m genosd.lab.ssh_process <lab root>

Reads the credentials from <root>/secrets, keeps each device's host key in <root>/ssh/<name>.key
(so a restarted lab keeps its keys and the daemon's pinned keys stay valid), listens on free
loopback ports and writes them to <root>/ssh/ports.json once every device listens. A device is
told to fail through <root>/ssh/<name>.faults.json (see genosd/lab/ssh_server.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

import asyncssh

from genosd.lab.manager import free_tcp_port
from genosd.lab.ssh_server import SimulatedDevice, start_ssh_device
from genosd.lab.topology import NODES, USERNAME, build_device

log = logging.getLogger("genosd.lab.ssh")


def _host_key(path: Path) -> asyncssh.SSHKey:
    if path.is_file():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(path)
    path.chmod(0o600)
    return key


async def serve(root: Path) -> None:
    """Start every device, publish the ports, and run until SIGTERM or SIGINT."""
    ssh_dir = root / "ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    password = (root / "secrets" / "ssh_credentials__lab-ssh__password").read_text().strip()
    secret = (root / "secrets" / "ssh_credentials__lab-ssh__enable_secret").read_text().strip()
    servers, ports = [], {}
    for node in NODES:
        sim = SimulatedDevice(
            build_device(node),
            USERNAME,
            password,
            secret,
            _host_key(ssh_dir / f"{node.name}.key"),
            ssh_dir / f"{node.name}.faults.json",
        )
        ports[node.name] = free_tcp_port()
        servers.append(await start_ssh_device(sim, "127.0.0.1", ports[node.name]))
    partial = ssh_dir / "ports.json.tmp"
    partial.write_text(json.dumps(ports))
    partial.replace(ssh_dir / "ports.json")
    log.info("SSH lab devices listening: %s", ports)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    """Entry point of the lab's SSH process."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
