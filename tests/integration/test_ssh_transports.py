"""The per-platform collection transport: scrapli reads EOS and NX-OS, held to the pinned host key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
from nornir.core.task import Result, Task

from genosd.collectors.facts import collect_facts
from genosd.config.backup import backup
from genosd.config.history import ConfigHistory
from genosd.platforms import platform
from genosd.ssh.cli import open_cli
from genosd.ssh.hostkeys import KnownHosts
from genosd.ssh.nornir import nornir_for


async def test_scrapli_platforms_back_up_and_collect_facts(topology_lab, tmp_path: Path):
    assert {platform(p).transport for p in ("eos", "nxos")} == {"scrapli"}
    targets = [topology_lab.target(name) for name in ("lab-sw1", "lab-nx1")]
    known = KnownHosts(tmp_path / "known_hosts")
    history = ConfigHistory(tmp_path / "configs")
    results = await asyncio.to_thread(backup, targets, history, known, author="test")
    assert all(r.ok for r in results), [r.error for r in results]
    nxos = history.show("lab-nx1", history.versions("lab-nx1")[0].id)
    assert "interface Ethernet1/1\n  description to lab-sw1 Ethernet3" in nxos
    assert "!Time:" not in nxos  # volatile header lines dropped
    facts = await asyncio.to_thread(collect_facts, targets, known)
    assert all(r.ok for r in facts), [(r.error, r.errors) for r in facts]
    assert {row["neighbor_name"] for row in facts[1].facts["lldp"]} == {
        "lab-sw1.lab.genosd.invalid",
        "lab-r1.lab.genosd.invalid",
    }


async def test_scrapli_itself_refuses_a_key_other_than_the_pinned_one(topology_lab, tmp_path):
    target = topology_lab.target("lab-sw1")
    known = KnownHosts(tmp_path / "known_hosts")
    # pin some other key: genosd's own pre-check is skipped here, so only scrapli can refuse
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known.record(target.address, target.port, " ".join(other.split()[:2]))

    def show_version(task: Task) -> Result:
        return Result(
            host=task.host, result=open_cli(task, platform("eos"), known).show("show version", 5)
        )

    def run() -> Result:
        nr = nornir_for([target], known.path, 1)
        try:
            return nr.run(task=show_version)[target.name][0]
        finally:
            nr.close_connections(on_good=True, on_failed=True)

    result = await asyncio.to_thread(run)
    assert result.failed and "public key does not match" in str(result.exception)
    assert topology_lab.sims["lab-sw1"].sessions == 0  # it never got as far as a shell
