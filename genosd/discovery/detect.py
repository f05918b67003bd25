"""What a device runs, from its sysObjectID, sysDescr and SSH banner (signatures.yaml)."""

from __future__ import annotations

import functools
import re
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, field_validator


class Signature(BaseModel):
    """How one OS shows itself; any one matching field is enough."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    os: str
    platform: str | None = None
    sys_object_id: tuple[str, ...] = ()
    sys_descr: tuple[str, ...] = ()
    banner: tuple[str, ...] = ()

    @field_validator("sys_descr", "banner")
    @classmethod
    def _regexes(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            re.compile(pattern)
        return patterns

    def matches(self, sys_object_id: str | None, sys_descr: str | None, banner: str | None) -> bool:
        """Whether any of the device's answers fits this signature."""
        if sys_object_id and any(
            (sys_object_id + ".").startswith(p if p.endswith(".") else p + ".")
            for p in self.sys_object_id
        ):
            return True
        if sys_descr and any(re.search(p, sys_descr, re.I) for p in self.sys_descr):
            return True
        return bool(banner and any(re.search(p, banner, re.I) for p in self.banner))


@functools.cache
def signatures() -> tuple[Signature, ...]:
    """The built-in signatures, in the order they are tried."""
    text = resources.files("genosd.discovery").joinpath("signatures.yaml").read_text()
    return tuple(Signature.model_validate(item) for item in yaml.safe_load(text))


def detect(
    sys_object_id: str | None, sys_descr: str | None, banner: str | None
) -> tuple[str | None, str | None]:
    """(os, genosd platform) of the first matching signature; (None, None) when none does.

    sysObjectID is tried across all signatures before the descriptions, since it is the most
    precise of the three (a Nexus's sysDescr also says "Cisco").
    """
    for signature in signatures():
        if sys_object_id and signature.matches(sys_object_id, None, None):
            return signature.os, signature.platform
    for signature in signatures():
        if signature.matches(None, sys_descr, banner):
            return signature.os, signature.platform
    return None, None
