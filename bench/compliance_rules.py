"""Precision and recall of the shipped baselines on the labelled set, and how fast they run (issue 14).

Quality: every labelled config (tests/data/compliance/<platform>/*.cfg, findings marked by hand)
is checked with the shipped baselines; per rule, a finding at a marked (rule, line) is a true
positive, an unmarked one a false positive, a marked one not reported a false negative.

Speed: `--copies` copies of every labelled config (hostnames changed so no two texts are equal)
are checked one after another, `--rounds` times; the reference in the same run is the least any
checker must do: reading each config's lines and stripping them. Medians are reported.

Run from the repository root:  .venv/bin/python -m bench.compliance_rules [--copies 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from genosd.config.rules import RuleSet, load_rules
from genosd.inventory import Device
from tests.compliance_set import labelled_set

BASELINES = Path(__file__).parent.parent / "templates" / "rules" / "baselines"


def quality(rules: RuleSet) -> dict:
    """Precision and recall per rule and overall, and findings on clean configs."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    clean_findings = 0
    configs = labelled_set()
    for config in configs:
        device = Device(
            name="d", hostname="d", platform=config.platform, groups=(), tags=(), data={}
        )
        got = {(f.rule, f.line) for f in rules.check(device, config.text)[0]}
        expected = set(config.expected)
        for rule, _ in got & expected:
            tp[rule] += 1
        for rule, _ in got - expected:
            fp[rule] += 1
        for rule, _ in expected - got:
            fn[rule] += 1
        if config.path.name.startswith("clean"):
            clean_findings += len(got)
    per_rule = {}
    for rule in sorted({r.id for r in rules.rules}):
        found, wrong, missed = tp[rule], fp[rule], fn[rule]
        per_rule[rule] = {
            "tp": found,
            "fp": wrong,
            "fn": missed,
            "precision": round(found / (found + wrong), 3) if found + wrong else None,
            "recall": round(found / (found + missed), 3) if found + missed else None,
        }
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    return {
        "configs": len(configs),
        "marked_findings": total_tp + total_fn,
        "precision": round(total_tp / (total_tp + total_fp), 4) if total_tp + total_fp else None,
        "recall": round(total_tp / (total_tp + total_fn), 4) if total_tp + total_fn else None,
        "findings_on_clean_configs": clean_findings,
        "rules_never_failing_in_the_set": [r for r, v in per_rule.items() if not v["tp"]],
        "per_rule": per_rule,
    }


def access_switch(ports: int, n: int) -> str:
    """A realistic access switch: the clean one with `ports` described, guarded access ports."""
    clean = next(c for c in labelled_set() if c.path.name == "clean-switch.cfg").text
    blocks = "".join(
        f"interface GigabitEthernet2/0/{port}\n description desk {n}-{port}\n"
        " switchport mode access\n switchport access vlan 20\n"
        " spanning-tree portfast edge\n storm-control broadcast level 1.00\n!\n"
        for port in range(1, ports + 1)
    )
    return clean.replace("!\ninterface Vlan20", blocks + "interface Vlan20", 1)


def speed(rules: RuleSet, copies: int, rounds: int, ports: int) -> dict:
    """configs/s of the baselines and of the bare line reading, medians of `rounds`."""
    base = labelled_set()
    if ports:
        texts = [("ios", access_switch(ports, n)) for n in range(copies)]
    else:
        texts = [
            (c.platform, c.text.replace("hostname ", f"hostname n{n}-", 1))
            for n in range(copies)
            for c in base
        ]
    devices = {
        p: Device(name="d", hostname="d", platform=p, groups=(), tags=(), data={})
        for p in {p for p, _ in texts}
    }
    lines = sum(len(t.splitlines()) for _, t in texts) / len(texts)
    checked, bare = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for platform, text in texts:
            rules.check(devices[platform], text)
        checked.append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        for _, text in texts:
            [line.strip() for line in text.splitlines()]
        bare.append(len(texts) / (time.perf_counter() - started))
    rate, reference = statistics.median(checked), statistics.median(bare)
    return {
        "configs": len(texts),
        "lines_per_config": round(lines, 1),
        "rules": len(rules.rules),
        "configs_per_s": round(rate),
        "bare_line_reading_configs_per_s": round(reference),
        "ratio_to_bare_reading": round(rate / reference, 4),
    }


def main() -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-rule", action="store_true", help="print every rule's figures")
    args = parser.parse_args()
    rules = load_rules([BASELINES])
    result = {
        "quality": quality(rules),
        "speed_labelled_set": speed(rules, args.copies, args.rounds, 0),
        "speed_96_port_switch": speed(rules, args.copies, args.rounds, 96),
    }
    if not args.per_rule:
        del result["quality"]["per_rule"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
