"""The journal of sent commands: noted only inside a recording, the outer recording holds, Nornir's
worker threads see the recording of the run's caller, long outputs cut, failures kept."""

from __future__ import annotations

import time

import pytest
from nornir.core import Nornir
from nornir.core.inventory import Defaults, Groups, Host, Hosts, Inventory
from nornir.core.task import Result, Task
from nornir.plugins.runners import ThreadedRunner

from genosd.ssh.journal import OUTPUT_LIMIT, Journal, noting, recording
from genosd.ssh.nornir import ContextRunner

DEVICES = ("r1", "r2", "r3", "r4")


def _nornir(runner: ThreadedRunner) -> Nornir:
    hosts = Hosts({name: Host(name=name) for name in DEVICES})
    inventory = Inventory(hosts=hosts, groups=Groups(), defaults=Defaults())
    return Nornir(inventory=inventory, runner=runner)


def _show_clock(task: Task) -> Result:
    with noting(task.host.name, "show", "show clock") as output:
        output.append(f"{task.host.name} 12:00")
    return Result(host=task.host)


def test_nornir_threads_note_under_the_callers_recording():
    journal = Journal()
    nornir = _nornir(ContextRunner(num_workers=4))
    with recording(journal, "alice", "backup", "run 7"):
        nornir.run(task=_show_clock)
    sent = sorted(journal.drain(), key=lambda s: s.device)
    assert [(s.device, s.command, s.output, s.ok) for s in sent] == [
        (d, "show clock", f"{d} 12:00", True) for d in DEVICES
    ]
    assert {(s.actor, s.reason, s.ref) for s in sent} == {("alice", "backup", "run 7")}
    assert journal.drain() == []
    nornir.run(task=_show_clock)  # outside any recording: nothing kept
    assert journal.drain() == []
    # Nornir's own runner loses the caller's context in its threads: why genosd has its own
    with recording(journal, "alice", "backup"):
        _nornir(ThreadedRunner(num_workers=4)).run(task=_show_clock)
    assert journal.drain() == []


def test_the_outer_recording_holds_failures_are_kept_long_outputs_cut():
    journal, other = Journal(), Journal()
    with recording(journal, "dave", "playbook p", "run 3"), recording(other, "x", "backup"):
        with pytest.raises(TimeoutError), noting("r1", "show", "show tech") as output:
            output.append("partial")
            raise TimeoutError("no prompt")
        with noting("r1", "show", "show running-config") as output:
            output.append("x" * (OUTPUT_LIMIT + 10))
    assert other.drain() == []
    failed, long = journal.drain()
    assert (failed.ok, failed.error, failed.output) == (False, "TimeoutError: no prompt", "partial")
    assert (failed.actor, failed.reason, failed.ref) == ("dave", "playbook p", "run 3")
    assert long.ok and long.truncated and len(long.output) == OUTPUT_LIMIT
    assert 0 <= failed.duration < 5 and failed.at <= time.time()
