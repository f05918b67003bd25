"""The poller at scale: GETBULK sized from the last poll, against the light lab responder."""

from __future__ import annotations

from pydantic import SecretStr

from genosd.collectors.scheduler import PollScheduler
from genosd.collectors.snmp import SnmpPoll
from genosd.inventory import Device, SnmpTarget
from genosd.lab.responder import Responder, ResponderThread, simulated
from genosd.settings_sections import SnmpCredential
from tests.servers import free_udp_port

PUBLIC = SnmpCredential(community=SecretStr("public"))


async def test_second_poll_asks_only_for_the_rows_the_first_one_found():
    port = free_udp_port()
    devices = simulated("127.3.0.1", 2)
    polls: list[SnmpPoll] = []

    async def handle(poll: SnmpPoll) -> None:
        polls.append(poll)

    with ResponderThread(Responder(devices, port, interfaces=3)) as responder:
        scheduler = PollScheduler(handle, concurrency=4, backoff_max=5)
        target = SnmpTarget(devices[0].address, port, "2c", PUBLIC, 2.0, 1, 25, 60.0)
        device = Device(devices[0].name, devices[0].address, None, (), (), snmp=target)
        try:
            first = await scheduler.poll_once(device)
            second = await scheduler.poll_once(device)
        finally:
            await scheduler.stop()
    assert first.ok and second.ok, (first.error, second.error)
    assert first.system["sysName"] == second.system["sysName"] == devices[0].name
    assert sorted(first.interfaces) == sorted(second.interfaces) == ["1", "2", "3"]
    assert first.longest_table == second.longest_table == 3
    # one GET of 4 scalars and one GETBULK each time: first 25 rows of every column, then 4
    # (the 3 rows and the end of each column)
    assert first.requests == second.requests == 2
    columns, rest = divmod(first.varbinds - 4, 25)
    assert rest == 0 and columns >= 17
    assert second.varbinds == 4 + columns * 4
    assert second.interfaces["2"]["ifHCInOctets"] > first.interfaces["2"]["ifHCInOctets"]
    assert len(responder.polls[devices[0].address]) == 2
    assert responder.polls.get(devices[1].address, []) == []
