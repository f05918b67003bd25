"""The corpus' secrets, configured on a device of each platform, never leave in clear: not into the
git history, plans, diffs, API answers, events, logs, nor what the LLM is sent."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from dulwich.objects import Blob
from dulwich.repo import Repo

from genosd import logs
from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from genosd.config.history import history_path
from genosd.lab.ios_device import IosDevice
from genosd.lab.junos_device import JunosDevice
from tests.api.conftest import Keys
from tests.api.test_events_ws import _bearer
from tests.ollama_server import FakeOllama
from tests.ssh_lab import Lab, topology_devices, write_topology_setup

CORPUS = Path(__file__).parent.parent / "data" / "secrets"
MARKED = re.compile("«([^»]*)»")
FILES = {"ios": "ios.cfg", "eos": "eos.cfg", "nxos": "nxos.cfg", "junos": "junos.cfg"}
TOPICS = ["device.status", "poll.result", "run", "alert", "job", "system", "audit"]
SKIPPED = re.compile(r"^(?:!|end$|version |hostname |\s*$)")


def configure(device: IosDevice | JunosDevice, text: str) -> None:
    """Enter the corpus' lines as config-mode commands, as an engineer's session would."""
    if isinstance(device, JunosDevice):
        device.active += [line for line in text.splitlines() if line.startswith("set ")]
        return
    section = None
    for line in text.splitlines():
        if SKIPPED.match(line):
            continue
        if line[0].isspace():
            device.config_command(section, line.strip())
        else:
            section, _ = device.config_command(None, line)


def running(device: IosDevice | JunosDevice) -> str:
    if isinstance(device, JunosDevice):
        return device.show_configuration()
    return device.show_running_config()


@pytest.fixture
async def secret_lab(tmp_path: Path):
    """The four-platform lab, each device also configured with its platform's corpus."""
    lab = Lab(tmp_path / "lab")
    lab.directory.mkdir()
    devices = topology_devices(minute=0.5)
    values: list[str] = []
    for device in devices:
        marked = (CORPUS / FILES[device.platform]).read_text()
        configure(device, MARKED.sub(r"\1", marked))
        shown = running(device)
        # only values the device really shows can prove anything
        values += [v for v in MARKED.findall(marked) if v in shown]
    await lab.start(devices)
    yield lab, values
    await lab.close()


def git_blobs(repository: Path) -> str:
    """Every blob ever stored in the config history, whatever commit holds it."""
    repo = Repo(str(repository))
    try:
        texts = []
        for sha in repo.object_store:
            item = repo.object_store[sha]
            if isinstance(item, Blob):
                texts.append(item.data.decode("utf-8", "replace"))
            texts.append(getattr(item, "message", b"").decode("utf-8", "replace"))
        return "\n".join(texts)
    finally:
        repo.close()


async def test_corpus_secrets_never_leave_in_clear(secret_lab, tmp_path: Path, capsys):
    lab, values = secret_lab
    assert len(values) >= 80, len(values)  # most of the corpus is on the devices
    ollama = FakeOllama()
    ollama.responder = lambda body: json.dumps({"findings": []})
    await ollama.start()
    config, secrets = write_topology_setup(
        tmp_path,
        lab.ports,
        settings=f"ssh: {{backup_schedule: '', facts_interval: 0}}\nllm: {{url: {ollama.url}}}\n",
    )
    logs.setup("DEBUG")  # what a debugging operator runs: every library narrating
    runtime = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    answers: list[str] = []
    events: list[str] = []
    try:
        keys = Keys(runtime.core.settings.state_dir)
        operator = _bearer(keys.make(Role.operator))
        admin = _bearer(keys.make(Role.admin))

        async def call(method: str, path: str, **kwargs) -> dict:
            response = await client.request(method, path, headers=operator, **kwargs)
            answers.append(await response.text())
            assert response.status < 500, answers[-1]
            return json.loads(answers[-1]) if answers[-1] else {}

        async with client.ws_connect("/api/v1/events", headers=admin) as ws:
            assert (await ws.receive_json())["type"] == "welcome"
            await ws.send_json({"type": "subscribe", "topics": TOPICS})
            await ws.receive_json()

            backup = await call("POST", "/api/v1/configs/backup", json={})
            assert all(r["ok"] for r in backup["results"]), backup
            names = sorted(lab.ports)
            for name in names:
                listed = await call("GET", f"/api/v1/devices/{name}/configs")
                await call("GET", f"/api/v1/devices/{name}/configs/{listed['items'][0]['id']}")
                await call("GET", f"/api/v1/devices/{name}/intended", params={"llm": "true"})
                await call("POST", f"/api/v1/devices/{name}/plan")
            ios = next(n for n in names if lab.sims[n].device.platform == "ios")
            plan = await call("POST", f"/api/v1/devices/{ios}/plan")
            change = plan["change"]
            assert change is not None and change["commands"]
            await call(
                "POST",
                f"/api/v1/approvals/{change['id']}/approve",
                json={"sha256": change["sha256"]},
            )
            deployed = await call("POST", f"/api/v1/approvals/{change['id']}/deploy")
            assert deployed["status"] == "deployed", deployed
            # a rotated password shows as a changed secret, neither value shown
            device = lab.sims[ios].device
            assert isinstance(device, IosDevice)
            old = "username ops password 7 094F471A1A0A1E1D0A5A"
            assert old in device.show_running_config()  # no feature owns it: still there
            device.config_command(None, f"no {old}")
            device.config_command(None, "username ops password 7 R0tatedPassw0rd")
            values.append("R0tatedPassw0rd")
            await call("POST", "/api/v1/configs/backup", json={"name": ios})
            versions = await call("GET", f"/api/v1/devices/{ios}/configs")
            older = versions["items"][1]["id"]
            diff = await call("GET", f"/api/v1/devices/{ios}/configs/{older}/diff")
            assert diff["changed_secrets"] == ["username ops password 7 <masked>"], diff
            assert "1 secret changed" in versions["items"][0]["message"]
            for path in ("/api/v1/approvals", "/api/v1/compliance", "/api/v1/audit"):
                response = await client.get(path, headers=admin)
                answers.append(await response.text())
            while True:
                try:
                    message = await ws.receive(timeout=0.5)
                except TimeoutError:
                    break
                events.append(str(message.data))
    finally:
        await client.close()
        await ollama.stop()
        for handler in logging.getLogger().handlers:
            handler.flush()
        logs.setup("WARNING")
    written = capsys.readouterr()
    sent = json.dumps(ollama.requests)
    stored = git_blobs(history_path(tmp_path / "state"))
    places = {
        "git history": stored,
        "API answers": "\n".join(answers),
        "events": "\n".join(events),
        "logs": written.err + written.out,
        "LLM requests": sent,
    }
    assert "<secret:" in stored and "<secret:" in places["API answers"]
    assert ollama.requests and "DEBUG" in places["logs"]
    for place, text in places.items():
        leaked = [v for v in values if v in text]
        assert not leaked, f"{place}: {leaked}"
    print(f"checked {len(values)} secret values", file=sys.stderr)
