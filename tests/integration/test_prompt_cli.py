"""`genosd prompt …` (the prompt plugin's command group, mounted by genosd's CLI): list, show,
edit from a file, diff, versions, rollback, test with variables from files, saved cases, an A/B
comparison on two models, export/import; bad input named, exit codes kept."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from genosd.cli import app
from genosd.errors import GenosdError
from tests.ollama_server import FakeOllama


async def _genosd(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr; a GenosdError is exit 1 with its message, as `main` does."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    if isinstance(result.exception, GenosdError):
        return 1, result.stdout, f"{result.stderr}error: {result.exception}"
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


async def test_the_prompt_commands_over_one_library(tmp_path: Path):
    server = FakeOllama(models=("model-a:1b", "model-b:1b"))

    def answer(body: dict) -> str:
        said = "interface is down" if body["model"] == "model-a:1b" else "no idea"
        return json.dumps({"answer": f"{said}; input was {len(body['messages'][-1]['content'])}"})

    server.responder = answer
    await server.start()
    try:
        inventory, templates = tmp_path / "inventory", tmp_path / "templates" / "ios"
        inventory.mkdir()
        templates.mkdir(parents=True)
        (inventory / "hosts.yaml").write_text("r1: {hostname: 127.0.0.1, platform: ios}\n")
        (inventory / "defaults.yaml").write_text("data: {features: [base]}\n")
        (templates / "base.j2").write_text("hostname {{ host.name }}\n")
        config = tmp_path / "genosd.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n"
            f"configs: {{templates_dir: {templates.parent}}}\n"
            f"llm: {{url: '{server.url}', models: {{chat: [model-a:1b], review: [model-a:1b]}}}}\n"
        )
        c = ("--config", str(config))
        code, out, _ = await _genosd("prompt", "list", *c, "--json")
        assert code == 0
        assert {p["name"] for p in json.loads(out)} >= {"config-review", "show-explain"}

        change = tmp_path / "change.yaml"
        change.write_text("description: explain briefly\ntags: [mine]\n")
        code, _, err = await _genosd("prompt", "edit", "show-explain", "-f", str(change), *c)
        assert code == 0, err
        code, _, err = await _genosd("prompt", "edit", "show-explain", "-f", str(change), *c)
        assert code == 0 and "no change, v2 stays active" in err  # nothing saved twice
        code, out, _ = await _genosd("prompt", "diff", "show-explain", *c)
        assert "+description: explain briefly" in out and "-description: Explain a show" in out
        code, out, _ = await _genosd("prompt", "show", "show-explain", "--version", "1", *c)
        assert out.startswith("# show-explain v1 (inactive) by seed")

        bad = tmp_path / "bad.yaml"
        bad.write_text("template: '{{ oops'\n")
        code, _, err = await _genosd("prompt", "edit", "show-explain", "-f", str(bad), *c)
        assert code == 1 and "does not compile" in err
        bad.write_text("colour: red\n")
        code, _, err = await _genosd("prompt", "edit", "show-explain", "-f", str(bad), *c)
        assert code == 1 and "unknown fields colour" in err

        output = tmp_path / "show-int.txt"
        output.write_text("GigabitEthernet0/1 is down, line protocol is down\n")
        test = ("prompt", "test", "show-explain", *c)
        variables = ("--var", "device=r1", "--var", "platform=ios", "--var", "command=show int")
        code, out, _ = await _genosd(*test, *variables, "--var", f"output=@{output}", "--json")
        ran = json.loads(out)
        assert code == 0 and ran["passed"] and ran["model"] == "model-a:1b"
        assert "interface is down" in ran["output"] and ran["version"] == 2
        code, _, err = await _genosd(*test, "--var", "device=r1")
        assert code == 1 and "variable 'platform' is required" in err

        cases = tmp_path / "cases.yaml"
        cases.write_text(
            "- name: down\n"
            "  variables: {device: r1, platform: ios, command: show int, output: 'Gi0/1 down'}\n"
            "  check: {kind: contains, value: down}\n"
        )
        code, out, err = await _genosd("prompt", "cases", "show-explain", "--add", str(cases), *c)
        assert code == 0 and "down" in out, err
        code, out, _ = await _genosd(
            "prompt", "compare", "show-explain", "--a-model", "model-a:1b", "--b-model",
            "model-b:1b", *c, "--json",
        )  # fmt: skip
        compared = json.loads(out)
        assert code == 0 and compared["a"]["passed"] == 1 and compared["b"]["failed"] == 1
        assert compared["rows"][0]["b"]["problem"] == "does not contain 'down'"
        code, _, _ = await _genosd(*test, "--case", "down", "--model", "model-b:1b")
        assert code == 1  # the saved case's check failed

        code, out, _ = await _genosd("prompt", "rollback", "show-explain", "1", *c)
        assert code == 0 and "v3 (the content of v1)" in out
        code, out, _ = await _genosd("prompt", "versions", "show-explain", *c, "--json")
        assert [(v["version"], v["active"]) for v in json.loads(out)] == [
            (3, True),
            (2, False),
            (1, False),
        ]
        code, exported, _ = await _genosd("prompt", "export", *c)
        items = yaml.safe_load(exported)
        items[0]["description"] = "changed elsewhere"
        (tmp_path / "export.yaml").write_text(yaml.safe_dump(items))
        code, out, _ = await _genosd("prompt", "import", str(tmp_path / "export.yaml"), *c)
        assert code == 0 and out == f"changed: {items[0]['name']}\n"
        items[1]["name"] = "Show Explain"
        (tmp_path / "export.yaml").write_text(yaml.safe_dump(items))
        code, _, err = await _genosd("prompt", "import", str(tmp_path / "export.yaml"), *c)
        assert code == 1 and "item 1: 'Show Explain' is not a prompt name" in err

        # genosd's own config review sends the library's active version of config-review
        review = tmp_path / "review.yaml"
        review.write_text("system: 'HOUSE-STYLE review for {{ platform }}; JSON findings only.'\n")
        code, _, err = await _genosd("prompt", "edit", "config-review", "-f", str(review), *c)
        assert code == 0, err
        server.responder = lambda body: json.dumps({"findings": []})
        code, out, err = await _genosd("config", "validate", *c, "--json")
        [device] = json.loads(out)["devices"]
        assert (device["llm"], device["llm_prompt"]) == ("passed", "config-review v2"), err
        sent = server.requests[-1][1]["messages"][0]["content"]
        assert sent == "HOUSE-STYLE review for ios; JSON findings only."

        broken = tmp_path / "broken.yaml"
        broken.write_text("state_dir: [not, a, path]\n")
        code, _, err = await _genosd("prompt", "list", "--config", str(broken))
        assert code == 78
    finally:
        await server.stop()
