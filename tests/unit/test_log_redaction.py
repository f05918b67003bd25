"""No log handler, genosd's or a library's, ever writes a secret."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest
from nornir.core import Nornir
from nornir.core.inventory import Defaults, Groups, Host, Hosts, Inventory
from nornir.core.task import Result, Task
from nornir.plugins.runners import SerialRunner

from genosd import logs
from genosd.app.snapshot import Sources, load_settings_from

CORPUS = Path(__file__).parent.parent / "data" / "secrets"
MARKED = re.compile("«([^»]*)»")


@pytest.fixture
def settings_with_secrets(tmp_path: Path):
    config = tmp_path / "genosd.yaml"
    config.write_text(
        "ssh_credentials:\n  lab:\n    username: admin\nplugins:\n  chatops:\n    channel: noc\n"
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ssh_credentials__lab__password").write_text("Ssh-Passw0rd-42\n")
    (secrets / "credentials__core__community").write_text("C0mmunity-Str1ng\n")
    (secrets / "plugins__chatops__webhook_url").write_text(
        "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX\n"
    )
    return load_settings_from(Sources(config_file=config, secrets_dirs=(secrets,)))


@pytest.fixture
def library_output():
    """A handler a library set up on its own logger, as nornir's file logging does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("some.library")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logs.cover_all_handlers()
    yield logger, stream
    logger.removeHandler(handler)


def test_settings_secrets_never_reach_a_library_handler(settings_with_secrets, library_output):
    logger, stream = library_output
    logger.info("login with %s", "Ssh-Passw0rd-42")
    logger.warning("posting to https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX")
    try:
        raise RuntimeError("snmp walk with community C0mmunity-Str1ng timed out")
    except RuntimeError:
        logger.exception("poll failed")
    logger.info("request: %s", {"password": "other-pass", "api_key": "abcdef0123"})
    logger.info("GET https://admin:urlpass99@10.0.0.1/api Authorization: Bearer eyJhbGciOi.x.y")
    written = stream.getvalue()
    for secret in (
        "Ssh-Passw0rd-42",
        "XXXXsecretXXXX",
        "C0mmunity-Str1ng",
        "other-pass",
        "abcdef0123",
        "urlpass99",
        "eyJhbGciOi",
    ):
        assert secret not in written, secret
    assert "poll failed" in written and "Traceback" in written and "<redacted>" in written


@pytest.mark.parametrize("name", ["ios.cfg", "eos.cfg", "nxos.cfg", "junos.cfg", "junos-curly.cfg"])
def test_config_secrets_in_a_message_are_masked(settings_with_secrets, library_output, name):
    logger, stream = library_output
    marked = (CORPUS / name).read_text()
    logger.debug("sending:\n%s", MARKED.sub(r"\1", marked))
    written = stream.getvalue()
    for value in MARKED.findall(marked):
        assert value not in written, value


def test_nornir_never_logs_task_arguments(library_output):
    _, stream = library_output
    nornir_logger = logging.getLogger("nornir.core")
    handler = logging.StreamHandler(stream)
    nornir_logger.addHandler(handler)
    nornir_logger.setLevel(logging.INFO)
    logs.cover_all_handlers()
    hosts = Hosts({"r1": Host("r1")})
    nr = Nornir(inventory=Inventory(hosts, Groups(), Defaults()), runner=SerialRunner())

    def push(task: Task, intended: str) -> Result:
        return Result(host=task.host, result=len(intended))

    try:
        result = nr.run(task=push, intended="hostname r1\nntp server 10.0.0.1\n")
    finally:
        nornir_logger.removeHandler(handler)
        nornir_logger.setLevel(logging.NOTSET)
    assert result["r1"][0].result == len("hostname r1\nntp server 10.0.0.1\n")
    written = stream.getvalue()
    assert "Running task 'push' on 1 hosts" in written and "ntp server" not in written
