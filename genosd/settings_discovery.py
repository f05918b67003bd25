"""The `discovery` section of genosd.yaml: where genosd may look for devices, and how gently."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator

from genosd.settings_sections import _Section, checked_networks

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DiscoverySettings(_Section):
    """Discovery probes only the seeds and the addresses of `ranges` (docs/discovery.md)."""

    seeds: list[str] = Field(
        default_factory=list,
        description="addresses probed first; a seed outside `ranges` is probed but its "
        "neighbours are followed only inside `ranges`",
    )
    ranges: list[str] = Field(
        default_factory=list,
        description="CIDR prefixes discovery may probe and crawl into; nothing else is ever probed",
    )
    sweep: bool = Field(
        False,
        description="probe every address of `ranges` too, not only seeds and the neighbours "
        "LLDP/CDP names inside them",
    )
    credentials: list[str] = Field(
        default_factory=list,
        description="SNMP credentials (names under `credentials`) tried in order; "
        "SNMPv3 for those with a username",
    )
    snmp_port: int = Field(161, ge=1, le=65535)
    ssh_port: int = Field(22, ge=1, le=65535, description="where the SSH banner is read")
    timeout: float = Field(2.0, gt=0, le=30, description="seconds per SNMP request or banner")
    retries: int = Field(1, ge=0, le=5)
    depth: int = Field(3, ge=0, le=32, description="LLDP/CDP hops followed from the seeds")
    rate: float = Field(20.0, gt=0, le=10_000, description="new addresses probed per second")
    concurrency: int = Field(16, ge=1, le=512, description="addresses probed at once")
    time_limit: float = Field(
        300.0, gt=0, le=86_400, description="a run stops after this many seconds"
    )
    max_addresses: int = Field(
        4096, ge=1, le=1_048_576, description="a run probes at most this many addresses"
    )
    stale_days: float = Field(
        14.0,
        gt=0,
        le=3650,
        description="inventory devices in `ranges` unseen this long are proposed",
    )
    use_facts: bool = Field(
        True, description="also follow the LLDP/CDP neighbours in the stored SSH facts"
    )

    @field_validator("ranges")
    @classmethod
    def _networks(cls, ranges: list[str]) -> list[str]:
        return checked_networks(ranges)

    @field_validator("seeds")
    @classmethod
    def _addresses(cls, seeds: list[str]) -> list[str]:
        for item in seeds:
            try:
                ipaddress.ip_address(item)
            except ValueError:
                raise ValueError(f"a seed is an IP address: {item!r}") from None
        return seeds

    @model_validator(mode="after")
    def _bounded(self) -> DiscoverySettings:
        if self.sweep:
            total = sum(n.num_addresses for n in self.networks())
            if total > self.max_addresses:
                raise ValueError(
                    f"sweeping ranges of {total} addresses exceeds max_addresses "
                    f"({self.max_addresses}): narrow the ranges or raise the limit"
                )
        return self

    def networks(self) -> list[IpNetwork]:
        """The ranges as networks."""
        return [ipaddress.ip_network(r, strict=False) for r in self.ranges]
