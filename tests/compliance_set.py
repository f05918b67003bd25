"""The labelled compliance set (tests/data/compliance): configs with their expected findings marked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SET = Path(__file__).parent / "data" / "compliance"
LABELLED = ("ios", "eos", "nxos", "junos")  # platforms with a labelled set (directory names)
_MARK = re.compile(r" ?«([^»]*)»$")
_EXPECT = re.compile(r"^[!#] expect: (.*)$")


@dataclass(frozen=True)
class Labelled:
    """A config, its platform, and the (rule, line) findings it must give (line None: global)."""

    path: Path
    platform: str
    text: str
    expected: tuple[tuple[str, int | None], ...]


def load_labelled(path: Path) -> Labelled:
    """Read one labelled config; markers are taken out, keeping line numbers."""
    lines: list[str] = []
    expected: list[tuple[str, int | None]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        mark = _MARK.search(line)
        if mark:
            expected += [(rule.strip(), number) for rule in mark.group(1).split(",")]
            line = line[: mark.start()]
        whole = _EXPECT.match(line)
        if whole:
            expected += [(rule, None) for rule in whole.group(1).split()]
        lines.append(line)
    return Labelled(path, path.parent.name, "\n".join(lines) + "\n", tuple(expected))


def labelled_set() -> list[Labelled]:
    """Every labelled config, platform by platform."""
    return [load_labelled(path) for path in sorted(SET.glob("*/*.cfg"))]
