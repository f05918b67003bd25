"""Intended configs: Jinja2 templates (sandboxed, StrictUndefined) over inventory data and facts.

Templates live at `<templates_dir>/<platform>/<feature>.j2`; the platform's `features` list
(platforms.yaml) gives the render order, a device may narrow it with `data.features`. A template
error names the template, its line and the missing variable; it never yields a partial config.
"""

from __future__ import annotations

import ipaddress
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from genosd.errors import ConfigError
from genosd.inventory import Device


class TemplateError(ConfigError):
    """A template is missing, does not parse, or needs data the device does not have."""


@dataclass(frozen=True)
class RenderedConfig:
    """One device's intended config, feature by feature."""

    device: str
    platform: str
    features: dict[str, str]

    @property
    def text(self) -> str:
        """The whole intended config."""
        return "".join(self.features.values())


def _ipaddr(value: str, part: str = "address") -> str:
    """`10.0.0.1/30` → address, netmask, network, prefixlen (the filter templates use most)."""
    iface = ipaddress.ip_interface(value)
    return {
        "address": str(iface.ip),
        "netmask": str(iface.netmask),
        "network": str(iface.network.network_address),
        "prefixlen": str(iface.network.prefixlen),
        "wildcard": str(iface.network.hostmask),
    }[part]


class Renderer:
    """Renders devices' intended configs from one templates directory."""

    def __init__(self, templates_dir: Path):
        self.templates_dir = templates_dir
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # configs are not HTML
        )
        self.env.filters["ipaddr"] = _ipaddr

    def _template(self, name: str) -> jinja2.Template:
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateError(
                f"template {name} does not exist", source=str(self.templates_dir)
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{exc.name or name}:{exc.lineno}: syntax error: {exc.message}",
                source=str(self.templates_dir),
            ) from None

    def features_for(self, device: Device) -> list[str]:
        """The features rendered for a device, in order."""
        if device.profile is None:
            raise TemplateError(f"{device.name}: unknown platform {device.platform!r}")
        known = list(device.profile.features)
        wanted = device.data.get("features")
        if wanted is None:
            return known
        if not isinstance(wanted, list) or not all(isinstance(f, str) for f in wanted):
            raise TemplateError(f"{device.name}: data.features must be a list of feature names")
        unknown = [f for f in wanted if f not in known]
        if unknown:
            raise TemplateError(
                f"{device.name}: unknown feature(s) {', '.join(unknown)} for platform "
                f"{device.platform}; known: {', '.join(known)}"
            )
        return [f for f in known if f in wanted]

    def render(self, device: Device, facts: Mapping[str, Any] | None = None) -> RenderedConfig:
        """The device's intended config; TemplateError naming template, line and variable."""
        if device.platform is None:
            raise TemplateError(f"{device.name}: no platform set in the inventory")
        context = template_context(device, facts or {})
        features: dict[str, str] = {}
        for feature in self.features_for(device):
            name = f"{device.platform}/{feature}.j2"
            template = self._template(name)
            try:
                text = template.render(context)
            except (jinja2.TemplateError, TypeError, ValueError, KeyError, ArithmeticError) as exc:
                # Jinja's own errors read well; a Python error in a filter needs its type
                problem = (
                    str(exc)
                    if isinstance(exc, jinja2.TemplateError)
                    else (f"{type(exc).__name__}: {exc}")
                )
                raise TemplateError(
                    f"{name}:{_template_line(exc, name)}: {problem} (device {device.name})",
                    source=str(self.templates_dir),
                ) from None
            if text and not text.endswith("\n"):
                text += "\n"
            features[feature] = text
        return RenderedConfig(device.name, device.platform, features)


def _template_line(exc: BaseException, name: str) -> int | str:
    """The template line an exception was raised at (Jinja maps frames back to the template)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(name):
            return frame.lineno or "?"
    return "?"


def template_context(device: Device, facts: Mapping[str, Any]) -> dict[str, Any]:
    """What a template sees: `host`, `data` (merged inventory data), `facts`, `snmp`."""
    snmp: dict[str, Any] = {}
    if device.snmp is not None:
        credential = device.snmp.credential
        snmp = {"version": device.snmp.version}
        if credential.community is not None:
            snmp["community"] = credential.community.get_secret_value()
    return {
        "host": {
            "name": device.name,
            "hostname": device.hostname,
            "platform": device.platform,
            "site": device.site,
            "role": device.role,
            "groups": list(device.groups),
            "tags": list(device.tags),
        },
        "data": dict(device.data),
        "facts": dict(facts),
        "snmp": snmp,
    }
