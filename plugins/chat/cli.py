"""`genosd chat`: talk to the assistant in the terminal, and manage conversations and agents.

Every command asks the running daemon (it holds the tools, the metrics and the model servers)
with the key in $GENOSD_API_KEY. `genosd chat` alone opens an interactive conversation: the answer
streams in as it is written, each tool call is shown as it happens; `/new`, `/agent NAME`,
`/changes on|off`, `/up [note]`, `/down [note]`, `/quit` work inside it.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from genosd.plugin import CliSession, InvalidRequestError, OpenPlugin

API_KEY_ENV = "GENOSD_API_KEY"
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="settings file (genosd.yaml)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print data as JSON")]
HELP = "/new  /agent NAME  /changes on|off  /up [note]  /down [note]  /quit"


class Daemon:
    """The daemon's chat API, with the caller's key."""

    def __init__(self, session: CliSession):
        key = os.environ.get(API_KEY_ENV)
        if not key:
            raise InvalidRequestError(
                f"set {API_KEY_ENV} to an API key (genosd keys create --role viewer): the "
                "assistant runs in the daemon"
            )
        self.base = f"{session.api_url}/api/v1/plugins/chat"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.ssl: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(session.api_ca)) if session.api_ca else True
        )

    async def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """One request; its JSON (or text) answer; InvalidRequestError naming the failure."""
        import aiohttp

        url = self.base + path
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as client,
                client.request(
                    method,
                    url,
                    json=body,
                    params={
                        k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()
                    },
                    headers=self.headers,
                    ssl=self.ssl,
                ) as response,
            ):
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise InvalidRequestError(f"the daemon at {url} did not answer: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = text
        if response.status >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            detail = "; ".join(str(d) for d in error.get("details") or [])
            message = error.get("message", text[:300]) + (f": {detail}" if detail else "")
            raise InvalidRequestError(f"the daemon answered {response.status}: {message}")
        return data


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


class Conversation:
    """The interactive loop's state: which conversation, agent and drafting mode."""

    def __init__(self, agent: str | None, session: str | None, allow_changes: bool):
        self.agent = agent
        self.session = session
        self.allow_changes = allow_changes
        self.last_turn: int | None = None


async def _converse(daemon: Daemon, state: Conversation, out: Console, ws: Any) -> None:
    loop = asyncio.get_running_loop()
    out.print(f"[dim]genosd chat — {HELP}[/dim]")
    while True:
        try:
            line = await loop.run_in_executor(None, input, "> ")
        except EOFError:
            return
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if not await _command(daemon, state, out, line):
                return
            continue
        await ws.send_json(
            {
                "type": "message",
                "content": line,
                "session": state.session,
                "agent": state.agent if state.session is None else None,
                "allow_changes": state.allow_changes,
            }
        )
        await _receive(ws, state, out)


async def _receive(ws: Any, state: Conversation, out: Console) -> None:
    """Print the answer as it streams in, until it is done or fails."""
    streamed = False
    async for frame in ws:
        event = json.loads(frame.data)
        kind = event.get("type")
        if kind == "token":
            streamed = True
            out.print(event["text"], end="", markup=False)
        elif kind == "tool_call":
            args = json.dumps(event["arguments"])
            out.print(f"\n[dim]→ {event['tool']} {args}[/dim]", markup=True)
        elif kind == "tool_result":
            status = "ok" if event["ok"] else f"failed: {event['error']}"
            out.print(f"[dim]  {event['tool']}: {status} ({event['chars']} chars)[/dim]")
        elif kind == "notice":
            out.print(f"\n[yellow]{event['message']}[/yellow]")
        elif kind == "done":
            state.session, state.last_turn = event["session"], event["turn"]
            out.print()
            if event.get("content") and not streamed:
                out.print(event["content"], markup=False)
            out.print(
                f"[dim]({event['latency']:.1f} s, {len(event['tool_calls'])} tool calls, "
                f"{event['tokens_in']}+{event['tokens_out']} tokens, {event['model']})[/dim]"
            )
            return
        elif kind == "error":
            out.print(f"\n[red]error: {event['message']}[/red]")
            return


async def _command(daemon: Daemon, state: Conversation, out: Console, line: str) -> bool:
    """Handle a /command; False to leave."""
    word, _, rest = line.partition(" ")
    if word in ("/quit", "/exit"):
        return False
    if word == "/new":
        state.session = None
        out.print("[dim]a new conversation starts with your next message[/dim]")
    elif word == "/agent":
        state.agent, state.session = rest.strip() or None, None
        out.print(f"[dim]speaking with {state.agent or 'the assistant'} (a new conversation)[/dim]")
    elif word == "/changes":
        state.allow_changes = rest.strip() == "on"
        out.print(f"[dim]drafting changes: {'on' if state.allow_changes else 'off'}[/dim]")
    elif word in ("/up", "/down") and state.last_turn is not None:
        body = {"rating": word[1:], "note": rest.strip()}
        await daemon.call("POST", f"/turns/{state.last_turn}/feedback", body)
        out.print("[dim]thank you[/dim]")
    else:
        out.print(f"[dim]{HELP}[/dim]")
    return True


def commands(open_plugin: OpenPlugin) -> typer.Typer:
    """The `genosd chat` command group."""
    app = typer.Typer(
        help="The assistant: chat, conversations, analytics, agents", invoke_without_command=True
    )

    def run(config: Path | None, work: Any) -> Any:
        async def main() -> Any:
            async with open_plugin(config) as session:
                return await work(Daemon(session))

        return asyncio.run(main())

    @app.callback()
    def chat(
        ctx: typer.Context,
        agent: Annotated[str | None, typer.Option(help="speak with this agent")] = None,
        session: Annotated[str | None, typer.Option(help="continue this conversation")] = None,
        allow_changes: Annotated[
            bool, typer.Option(help="let the assistant draft change requests (operators)")
        ] = False,
        config: ConfigOption = None,
    ) -> None:
        """Talk to the assistant (interactive) when no command is given."""
        if ctx.invoked_subcommand is not None:
            return

        async def work(daemon: Daemon) -> None:
            import aiohttp

            state = Conversation(agent, session, allow_changes)
            async with (
                aiohttp.ClientSession() as client,
                client.ws_connect(
                    daemon.base + "/ws", headers=daemon.headers, ssl=daemon.ssl
                ) as ws,
            ):
                welcome = await ws.receive_json()
                if welcome.get("type") != "welcome":
                    raise InvalidRequestError(f"unexpected greeting: {welcome}")
                await _converse(daemon, state, _out(), ws)

        run(config, work)

    @app.command("ask")
    def ask(
        message: Annotated[str, typer.Argument(help="the question ('-' reads standard input)")],
        session: Annotated[str | None, typer.Option(help="in this conversation")] = None,
        agent: Annotated[
            str | None, typer.Option(help="a new conversation with this agent")
        ] = None,
        allow_changes: Annotated[bool, typer.Option(help="may draft change requests")] = False,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Ask one question and print the answer (in a new conversation unless --session)."""
        text = sys.stdin.read() if message == "-" else message

        async def work(daemon: Daemon) -> Any:
            session_id = session
            if session_id is None:
                created = await daemon.call("POST", "/sessions", {"agent": agent})
                session_id = created["id"]
            body = {"content": text, "allow_changes": allow_changes}
            return await daemon.call("POST", f"/sessions/{session_id}/messages", body)

        answer = run(config, work)
        if json_out:
            _json(answer)
            return
        out = _out()
        for call in answer["tool_calls"]:
            status = "ok" if call["ok"] else f"failed: {call['error']}"
            out.print(f"[dim]→ {call['tool']} {json.dumps(call['arguments'])}: {status}[/dim]")
        out.print(answer["content"], markup=False)
        out.print(f"[dim]conversation {answer['session']}, answer {answer['turn']}[/dim]")

    @app.command("sessions")
    def sessions(
        everyone: Annotated[bool, typer.Option(help="everyone's (admins)")] = False,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Your conversations, the most recent first."""
        data = run(config, lambda d: d.call("GET", "/sessions", everyone=everyone))
        if json_out:
            _json(data["items"])
            return
        table = Table("id", "title", "agent", "turns", "owner")
        for s in data["items"]:
            table.add_row(s["id"], s["title"], s["agent"] or "", str(s["turns"]), s["owner"])
        _out().print(table)

    @app.command("export")
    def export(
        session: Annotated[str, typer.Argument(help="the conversation's id")],
        markdown: Annotated[bool, typer.Option(help="as Markdown instead of JSON")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Print a conversation (JSON, or Markdown for a ticket)."""
        fmt = "markdown" if markdown else "json"
        data = run(config, lambda d: d.call("GET", f"/sessions/{session}/export", format=fmt))
        if isinstance(data, str):
            sys.stdout.write(data)
        else:
            _json(data)

    @app.command("delete")
    def delete(
        session: Annotated[str, typer.Argument(help="the conversation's id")],
        config: ConfigOption = None,
    ) -> None:
        """Delete a conversation and its messages."""
        run(config, lambda d: d.call("DELETE", f"/sessions/{session}"))
        _out().print(f"deleted {session}")

    @app.command("stats")
    def stats(
        hours: Annotated[float, typer.Option(help="the window")] = 168,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Conversation analytics: answers, latency, tokens, tools, feedback."""
        data = run(config, lambda d: d.call("GET", "/stats", hours=hours))
        if json_out:
            _json(data)
            return
        out = _out()
        latency = data["latency_seconds"]
        out.print(
            f"{data['turns']} answers in {data['conversations']} conversations, "
            f"{data['errors']} failed, {data['stopped_at_limit']} stopped at a limit; "
            f"latency p50 {latency['p50']} s, p95 {latency['p95']} s; tokens "
            f"{data['tokens']['in']} in, {data['tokens']['out']} out; feedback "
            f"+{data['feedback']['up']} / -{data['feedback']['down']}"
        )
        table = Table("tool", "calls", "failed", "p50 s")
        for name, t in data["tools"].items():
            table.add_row(name, str(t["calls"]), str(t["failed"]), str(t["p50_seconds"]))
        out.print(table)

    app.add_typer(_agents(run), name="agents")
    return app


def _agents(run: Any) -> typer.Typer:
    agents = typer.Typer(help="Configured assistants", no_args_is_help=True)

    @agents.command("list")
    def list_agents(config: ConfigOption = None, json_out: JsonOption = False) -> None:
        """Every agent."""
        data = run(config, lambda d: d.call("GET", "/agents"))["items"]
        if json_out:
            _json(data)
            return
        table = Table("name", "description", "tools", "writes", "shipped")
        for a in data:
            table.add_row(
                a["name"],
                a["description"],
                str(len(a["tools"])),
                str(a["writes"]),
                str(a["shipped"]),
            )
        _out().print(table)

    @agents.command("show")
    def show(name: str, config: ConfigOption = None) -> None:
        """An agent's definition, as YAML (edit it and `create`/`update` it back)."""
        data = run(config, lambda d: d.call("GET", f"/agents/{name}"))
        data.pop("shipped", None)
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))

    @agents.command("create")
    def create(
        file: Annotated[Path, typer.Argument(help="the agent as YAML")],
        update: Annotated[bool, typer.Option(help="replace an existing agent")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Create (or with --update replace) an agent from a YAML file; refused with every
        problem named when it could not run."""
        try:
            body = yaml.safe_load(file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidRequestError(f"{file}: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise InvalidRequestError(f"{file}: an agent is a mapping with a `name`")
        if update:
            run(config, lambda d: d.call("PUT", f"/agents/{body['name']}", body))
        else:
            run(config, lambda d: d.call("POST", "/agents", body))
        _out().print(f"saved agent {body['name']}")

    @agents.command("clone")
    def clone(name: str, new_name: str, config: ConfigOption = None) -> None:
        """Copy an agent under a new name."""
        run(config, lambda d: d.call("POST", f"/agents/{name}/clone", {"name": new_name}))
        _out().print(f"cloned {name} as {new_name}")

    @agents.command("delete")
    def delete(name: str, config: ConfigOption = None) -> None:
        """Delete an agent."""
        run(config, lambda d: d.call("DELETE", f"/agents/{name}"))
        _out().print(f"deleted agent {name}")

    @agents.command("validate")
    def validate(name: str, config: ConfigOption = None, json_out: JsonOption = False) -> None:
        """Check an agent's tools, roles and prompt (exit 1 when it could not run)."""
        data = run(config, lambda d: d.call("POST", f"/agents/{name}/validate"))
        if json_out:
            _json(data)
        else:
            for problem in data["problems"]:
                _out().print(f"[red]✗[/red] {problem}")
            if data["valid"]:
                _out().print(f"[green]✓[/green] {name} is valid")
        if not data["valid"]:
            raise typer.Exit(1)

    @agents.command("test")
    def test(name: str, config: ConfigOption = None, json_out: JsonOption = False) -> None:
        """Run an agent's saved test conversations on the model (exit 1 when any fails)."""
        data = run(config, lambda d: d.call("POST", f"/agents/{name}/test", {}))
        if json_out:
            _json(data)
        else:
            for result in data["results"]:
                mark = "[green]✓[/green]" if result["passed"] else "[red]✗[/red]"
                _out().print(f"{mark} {result['name']}")
                for failure in result["failures"]:
                    _out().print(f"    {failure}")
            _out().print(f"{data['passed']} passed, {data['failed']} failed")
        if data["failed"]:
            raise typer.Exit(1)

    return agents
