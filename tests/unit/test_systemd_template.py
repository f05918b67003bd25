"""genosd@.service keeps every hardening and lifecycle line of genosd.service (one node each)."""

from __future__ import annotations

from pathlib import Path

SYSTEMD = Path(__file__).parents[2] / "systemd"


def _directives(path: Path) -> list[str]:
    return [
        line
        for line in path.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    ]


def test_the_template_is_the_unit_plus_the_node_name():
    single = _directives(SYSTEMD / "genosd.service")
    template = _directives(SYSTEMD / "genosd@.service")
    differs = {
        "Description=genosd network automation daemon",
        "Documentation=file:///usr/share/doc/genosd/configuration.md",
        "StateDirectory=genosd",
    }
    assert [line for line in single if line not in differs] == [
        line
        for line in template
        if "%i" not in line
        and not line.startswith("Documentation=")
        and line != "Environment=GENOSD_CLUSTER__BACKEND=redis"
    ]
    assert "Environment=GENOSD_CLUSTER__NODE=%i" in template
    assert "StateDirectory=genosd/%i" in template  # each node its own state (SQLite, spool)
    assert "EnvironmentFile=-/etc/genosd/%i.env" in template
    assert "LimitNOFILE=65536" in template
