"""walk_columns against an in-memory agent table (a transport double, not our own code)."""

import pytest

from genosd.collectors.snmp_client import walk_columns
from genosd.errors import DeviceProtocolError


class TableAgent:
    """Answers GETBULK like an agent would from a sorted table."""

    def __init__(self, table: dict[str, int], loop_at: str | None = None):
        self.oids = sorted(table, key=lambda o: tuple(map(int, o.split("."))))
        self.table = table
        self.loop_at = loop_at
        self.requests = 0

    def _next(self, oid: str) -> tuple[str, int | None]:
        key = tuple(map(int, oid.split(".")))
        for candidate in self.oids:
            if tuple(map(int, candidate.split("."))) > key:
                return candidate, self.table[candidate]
        return oid, None  # endOfMibView

    async def get_bulk(self, oids, max_repetitions):
        self.requests += 1
        out, cursors = [], list(oids)
        for _ in range(max_repetitions):
            for i, oid in enumerate(cursors):
                nxt = (oid, 1) if oid == self.loop_at else self._next(oid)
                out.append(nxt)
                cursors[i] = nxt[0]
        return out


async def test_walks_columns_of_different_lengths_in_lock_step():
    table = {f"1.3.6.1.2.1.2.2.1.2.{i}": i for i in range(1, 8)}
    table.update({f"1.3.6.1.2.1.31.1.1.1.6.{i}": i * 10 for i in range(1, 4)})
    table["1.3.6.1.2.1.31.1.1.1.7.1"] = 99
    agent = TableAgent(table)
    result = await walk_columns(agent, ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.31.1.1.1.6"], 3)
    assert result["1.3.6.1.2.1.2.2.1.2"] == {str(i): i for i in range(1, 8)}
    assert result["1.3.6.1.2.1.31.1.1.1.6"] == {"1": 10, "2": 20, "3": 30}


async def test_agent_returning_the_same_oid_forever_is_a_protocol_error():
    agent = TableAgent({"1.3.6.1.2.1.2.2.1.2.1": 1}, loop_at="1.3.6.1.2.1.2.2.1.2.1")
    with pytest.raises(DeviceProtocolError, match="non-increasing"):
        await walk_columns(agent, ["1.3.6.1.2.1.2.2.1.2"], 5)
