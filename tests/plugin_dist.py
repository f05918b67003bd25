"""Install the test plugins the way pip would: a dist-info with `genosd.plugins` entry points."""

from __future__ import annotations

from pathlib import Path

PLUGIN_DIR = Path(__file__).parent / "data" / "test_plugins"
ENTRY_POINTS = {
    "importerror": "gp_importerror",
    "badconfig": "gp_badconfig",
    "raises": "gp_raises",
    "unknownhook": "gp_unknownhook",
    "badsink": "gp_badsink",
    "good": "gp_good",
}


def write_dist(site: Path) -> list[Path]:
    """A dist-info under `site`; returns the paths to put on sys.path / PYTHONPATH."""
    dist = site / "genosd_test_plugins-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: genosd-test-plugins\nVersion: 1.0\n"
    )
    lines = "\n".join(f"{name} = {module}" for name, module in ENTRY_POINTS.items())
    (dist / "entry_points.txt").write_text(f"[genosd.plugins]\n{lines}\n")
    return [site, PLUGIN_DIR]
