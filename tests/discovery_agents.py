"""SNMP agents for discovery tests: snmpsim recordings of a system group, an interface table and
LLDP-MIB / CISCO-CDP-MIB neighbour tables, each agent on its own 127.0.0.x address."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from genosd.snmp.client import Credentials, SnmpClient
from tests.servers import free_udp_port, snmpsim


@dataclass(frozen=True)
class Peer:
    """A neighbour as an agent's LLDP or CDP table lists it."""

    local_interface: str
    name: str
    interface: str
    address: str
    protocol: str = "lldp"


@dataclass
class Agent:
    """One simulated device."""

    address: str
    sys_name: str
    sys_object_id: str
    sys_descr: str
    peers: list[Peer] = field(default_factory=list)


def _hex(text: str) -> str:
    return text.encode().hex()


def recording(agent: Agent) -> str:
    """The agent's .snmprec text (OID order)."""
    rows: list[tuple[str, str, str]] = [
        ("1.3.6.1.2.1.1.1.0", "4x", _hex(agent.sys_descr)),
        ("1.3.6.1.2.1.1.2.0", "6", agent.sys_object_id),
        ("1.3.6.1.2.1.1.3.0", "67", "12345"),
        ("1.3.6.1.2.1.1.5.0", "4", agent.sys_name),
    ]
    interfaces = sorted({p.local_interface for p in agent.peers})
    index_of = {name: number for number, name in enumerate(interfaces, start=1)}
    for name, number in index_of.items():
        rows.append((f"1.3.6.1.2.1.2.2.1.2.{number}", "4", name))
        rows.append((f"1.3.6.1.2.1.31.1.1.1.1.{number}", "4", name))
    for position, peer in enumerate(agent.peers, start=1):
        port = index_of[peer.local_interface]
        octets = ".".join(str(b) for b in ipaddress.IPv4Address(peer.address).packed)
        if peer.protocol == "lldp":
            rem = f"0.{port}.{position}"
            rows += [
                (f"1.0.8802.1.1.2.1.3.7.1.3.{port}", "4", peer.local_interface),
                (f"1.0.8802.1.1.2.1.3.7.1.4.{port}", "4", peer.local_interface),
                (f"1.0.8802.1.1.2.1.4.1.1.7.{rem}", "4", peer.interface),
                (f"1.0.8802.1.1.2.1.4.1.1.8.{rem}", "4", peer.interface),
                (f"1.0.8802.1.1.2.1.4.1.1.9.{rem}", "4", peer.name),
                (f"1.0.8802.1.1.2.1.4.1.1.10.{rem}", "4", f"{peer.name} system"),
                (f"1.0.8802.1.1.2.1.4.2.1.3.{rem}.1.4.{octets}", "2", "2"),
            ]
        else:
            cache = f"{port}.{position}"
            rows += [
                (f"1.3.6.1.4.1.9.9.23.1.2.1.1.3.{cache}", "2", "1"),
                (
                    f"1.3.6.1.4.1.9.9.23.1.2.1.1.4.{cache}",
                    "4x",
                    ipaddress.IPv4Address(peer.address).packed.hex(),
                ),
                (f"1.3.6.1.4.1.9.9.23.1.2.1.1.6.{cache}", "4", peer.name),
                (f"1.3.6.1.4.1.9.9.23.1.2.1.1.7.{cache}", "4", peer.interface),
                (f"1.3.6.1.4.1.9.9.23.1.2.1.1.8.{cache}", "4", "cisco WS-C3560"),
            ]
    rows = list(dict.fromkeys(rows))
    rows.sort(key=lambda row: tuple(int(x) for x in row[0].split(".")))
    return "".join(f"{oid}|{tag}|{value}\n" for oid, tag, value in rows)


async def _answers(address: str, port: int) -> bool:
    client = SnmpClient(address, port, Credentials("2c", community=b"public"), 0.5, 0)
    try:
        await client.get(["1.3.6.1.2.1.1.5.0"])
        return True
    except Exception:
        return False
    finally:
        client.close()


@contextlib.asynccontextmanager
async def agents(root: Path, devices: list[Agent]) -> AsyncIterator[int]:
    """One snmpsim per agent, all on one UDP port of their own address (community `public`),
    answering when this yields the port."""
    port = free_udp_port()
    async with contextlib.AsyncExitStack() as stack:
        for agent in devices:
            data = root / agent.address / "data"
            data.mkdir(parents=True)
            (data / "public.snmprec").write_text(recording(agent))
            await stack.enter_async_context(
                snmpsim(data, root / agent.address / "cache", address=agent.address, port=port)
            )
        for agent in devices:
            for _ in range(100):
                if await _answers(agent.address, port):
                    break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"snmpsim on {agent.address}:{port} did not answer")
        yield port
