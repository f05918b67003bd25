"""The OIDs genosd polls, named as in their MIBs, with the value kind each must have."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "int", "counter32", "counter64", "gauge", "ticks", "oid"]


@dataclass(frozen=True)
class Column:
    """One MIB object: its name (the Telegraf field/tag name), OID and value kind."""

    name: str
    oid: str
    kind: Kind


SYSTEM = (
    Column("sysDescr", "1.3.6.1.2.1.1.1.0", "text"),
    Column("sysObjectID", "1.3.6.1.2.1.1.2.0", "oid"),
    Column("sysUpTime", "1.3.6.1.2.1.1.3.0", "ticks"),
    Column("sysName", "1.3.6.1.2.1.1.5.0", "text"),
)

_IF = "1.3.6.1.2.1.2.2.1."
_IFX = "1.3.6.1.2.1.31.1.1.1."

IF_TABLE = (
    Column("ifDescr", _IF + "2", "text"),
    Column("ifType", _IF + "3", "int"),
    Column("ifMtu", _IF + "4", "int"),
    Column("ifSpeed", _IF + "5", "gauge"),
    Column("ifAdminStatus", _IF + "7", "int"),
    Column("ifOperStatus", _IF + "8", "int"),
    Column("ifInDiscards", _IF + "13", "counter32"),
    Column("ifInErrors", _IF + "14", "counter32"),
    Column("ifOutDiscards", _IF + "19", "counter32"),
    Column("ifOutErrors", _IF + "20", "counter32"),
)
# Polled only for interfaces that have no 64-bit (ifXTable HC) counters.
IF_TABLE_32BIT = (
    Column("ifInOctets", _IF + "10", "counter32"),
    Column("ifInUcastPkts", _IF + "11", "counter32"),
    Column("ifOutOctets", _IF + "16", "counter32"),
    Column("ifOutUcastPkts", _IF + "17", "counter32"),
)
IFX_TABLE = (
    Column("ifName", _IFX + "1", "text"),
    Column("ifHCInOctets", _IFX + "6", "counter64"),
    Column("ifHCInUcastPkts", _IFX + "7", "counter64"),
    Column("ifHCOutOctets", _IFX + "10", "counter64"),
    Column("ifHCOutUcastPkts", _IFX + "11", "counter64"),
    Column("ifHighSpeed", _IFX + "15", "gauge"),
    Column("ifAlias", _IFX + "18", "text"),
)
# 64-bit counter -> the 32-bit ifTable counter it replaces
HC_FALLBACK = {
    "ifHCInOctets": "ifInOctets",
    "ifHCInUcastPkts": "ifInUcastPkts",
    "ifHCOutOctets": "ifOutOctets",
    "ifHCOutUcastPkts": "ifOutUcastPkts",
}

HR_PROCESSOR_LOAD = Column("hrProcessorLoad", "1.3.6.1.2.1.25.3.3.1.2", "int")
HR_STORAGE = (
    Column("hrStorageType", "1.3.6.1.2.1.25.2.3.1.2", "oid"),
    Column("hrStorageDescr", "1.3.6.1.2.1.25.2.3.1.3", "text"),
    Column("hrStorageAllocationUnits", "1.3.6.1.2.1.25.2.3.1.4", "int"),
    Column("hrStorageSize", "1.3.6.1.2.1.25.2.3.1.5", "int"),
    Column("hrStorageUsed", "1.3.6.1.2.1.25.2.3.1.6", "int"),
)
HR_STORAGE_RAM = ".1.3.6.1.2.1.25.2.1.2"

# CISCO-PROCESS-MIB / CISCO-MEMORY-POOL-MIB
CISCO_CPU_1MIN = Column("cpmCPUTotal1minRev", "1.3.6.1.4.1.9.9.109.1.1.1.1.7", "gauge")
CISCO_MEMORY = (
    Column("ciscoMemoryPoolName", "1.3.6.1.4.1.9.9.48.1.1.1.2", "text"),
    Column("ciscoMemoryPoolUsed", "1.3.6.1.4.1.9.9.48.1.1.1.5", "gauge"),
    Column("ciscoMemoryPoolFree", "1.3.6.1.4.1.9.9.48.1.1.1.6", "gauge"),
)
# JUNIPER-MIB jnxOperatingTable: only Routing Engine rows carry CPU and memory
JUNIPER_OPERATING = (
    Column("jnxOperatingDescr", "1.3.6.1.4.1.2636.3.1.13.1.5", "text"),
    Column("jnxOperatingCPU", "1.3.6.1.4.1.2636.3.1.13.1.8", "gauge"),
    Column("jnxOperatingBuffer", "1.3.6.1.4.1.2636.3.1.13.1.11", "gauge"),
    Column("jnxOperatingMemory", "1.3.6.1.4.1.2636.3.1.13.1.15", "gauge"),
)

ENTERPRISE_CISCO = ".1.3.6.1.4.1.9."
ENTERPRISE_JUNIPER = ".1.3.6.1.4.1.2636."

COUNTER_BITS = {"counter32": 32, "counter64": 64}
COLUMN_BY_NAME = {
    c.name: c
    for c in (*SYSTEM, *IF_TABLE, *IF_TABLE_32BIT, *IFX_TABLE, HR_PROCESSOR_LOAD, *HR_STORAGE)
}
