"""`genosd rag ingest|query|ask|docs|delete`: the knowledge base from the command line.

The commands open the knowledge base themselves; in local mode Qdrant allows one process at a
time, so while the daemon has it open they say so (use the API then, or a Qdrant server)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from genosd.plugin import CliSession, InvalidRequestError, OpenPlugin
from plugins.rag import job_queue, knowledge_base
from plugins.rag.folders import expand
from plugins.rag.index import Filters, Mode, StoreBusy
from plugins.rag.ingest import KnowledgeBase
from plugins.rag.jobs import JobKind, JobQueue, JobRecord, run_job
from plugins.rag.retrieve import Answer, Passage, answer, search

T = TypeVar("T")
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="settings file (genosd.yaml)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print data as JSON")]
TagOption = Annotated[list[str] | None, typer.Option("--tag", "-t", help="a tag (repeatable)")]


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 100_000)


def _show_passages(passages: list[Passage]) -> None:
    out = _out()
    for p in passages:
        out.print(f"[bold][{p.rank}] {p.citation}[/bold]  (score {p.score:.3f})")
        out.print(p.text.strip(), markup=False)
        out.print()


API_KEY_ENV = "GENOSD_API_KEY"


async def ask_daemon(session: CliSession, path: str, body: dict[str, Any]) -> Any:
    """POST to the running daemon's knowledge base (a viewer key in $GENOSD_API_KEY)."""
    import ssl

    import aiohttp

    key = os.environ.get(API_KEY_ENV)
    if not key:
        raise StoreBusy(
            "the daemon has the knowledge base open: set GENOSD_API_KEY to a viewer key "
            "(genosd keys create --role viewer) and this command asks the daemon"
        )
    context = ssl.create_default_context(cafile=str(session.api_ca)) if session.api_ca else None
    url = f"{session.api_url}/api/v1/plugins/rag{path}"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as client,
            client.post(url, json=body, headers=headers, ssl=context or True) as response,
        ):
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise StoreBusy(f"the daemon has the knowledge base open and {url} failed: {exc}") from None
    if response.status != 200:
        message = data.get("error", {}).get("message") if isinstance(data, dict) else data
        raise InvalidRequestError(f"the daemon answered {response.status}: {message}")
    return data


async def _run_or_follow(
    session: Any, queue: JobQueue, job: JobRecord, show: Callable[[JobRecord], None]
) -> JobRecord:
    try:
        kb = await asyncio.to_thread(knowledge_base, session.config, session.context)
    except StoreBusy:
        while job.state in ("queued", "running"):  # the daemon's `jobs` loop takes it
            await asyncio.sleep(0.5)
            job = await asyncio.to_thread(queue.get, job.id)
            show(job)
        return job
    try:
        claimed = await asyncio.to_thread(queue.claim, job.id)
        return await run_job(kb, queue, claimed or job, show)
    finally:
        await asyncio.to_thread(kb.index.close)


def commands(open_plugin: OpenPlugin) -> typer.Typer:
    """The `genosd rag` command group."""
    app = typer.Typer(help="The knowledge base: documents, search, answers", no_args_is_help=True)

    def run(
        config: Path | None,
        work: Callable[[KnowledgeBase, Any], Awaitable[T]],
        remote: Callable[[CliSession], Awaitable[T]] | None = None,
    ) -> T:
        """`work` on the knowledge base; while the daemon holds it, `remote` (over its API)."""

        async def main() -> T:
            async with open_plugin(config) as session:
                try:
                    kb = await asyncio.to_thread(knowledge_base, session.config, session.context)
                except StoreBusy:
                    if remote is None:
                        raise
                    return await remote(session)
                try:
                    return await work(kb, session.context)
                finally:
                    await asyncio.to_thread(kb.index.close)

        return asyncio.run(main())

    @app.command("ingest")
    def ingest(
        paths: Annotated[list[Path], typer.Argument(help="files or folders")],
        tag: TagOption = None,
        version: Annotated[str | None, typer.Option(help="the documents' version")] = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Add files and folders (Markdown, text, HTML, PDF, man pages) as one job; a file that
        cannot be read is reported and skipped (exit 1 when any failed). While the daemon runs,
        it runs the job and this follows it."""
        items = expand(paths)
        job = run_as_job(config, "ingest", items, {"tags": tag or [], "version": version}, json_out)
        if json_out:
            _json(job.model_dump())
        else:
            for error in job.errors:
                print(f"failed   {error}", file=sys.stderr)
            print(
                f"job {job.id} {job.state}: {job.added} added, {job.updated} updated,"
                f" {job.duplicates} duplicates, {job.failed} failed ({job.cursor}/{job.total})"
            )
        if job.failed or job.state != "done":
            raise typer.Exit(1)

    @app.command("query")
    def query(
        text: Annotated[str, typer.Argument(help="what to look for")],
        mode: Annotated[str, typer.Option(help="hybrid, sparse or dense")] = "hybrid",
        limit: Annotated[int, typer.Option(min=1, max=50)] = 5,
        tag: TagOption = None,
        device: Annotated[str | None, typer.Option(help="only this device's configs")] = None,
        kind: Annotated[str | None, typer.Option(help="markdown, pdf, config, change, …")] = None,
        days: Annotated[float | None, typer.Option(help="only the last N days")] = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """The best passages, with their citations."""
        if mode not in ("hybrid", "sparse", "dense"):
            raise typer.BadParameter("hybrid, sparse or dense", param_hint="--mode")
        chosen: Mode = mode  # type: ignore[assignment]
        since = time.time() - days * 86400 if days is not None else None
        filters = Filters(tags=list(tag or []), kind=kind, device=device, since=since)

        async def work(kb: KnowledgeBase, context: Any) -> list[Passage]:
            return await search(kb, text, chosen, limit, filters)

        async def remote(session: CliSession) -> list[Passage]:
            body = {
                "query": text,
                "mode": chosen,
                "limit": limit,
                "tags": list(tag or []),
                "kind": kind,
                "device": device,
                "since": since,
            }
            found = await ask_daemon(session, "/query", body)
            return [Passage.model_validate(p) for p in found["items"]]

        found = run(config, work, remote)
        if json_out:
            _json([p.model_dump() for p in found])
        else:
            _show_passages(found)

    @app.command("ask")
    def ask(
        question: Annotated[str, typer.Argument(help="the question")],
        tag: TagOption = None,
        model: Annotated[str | None, typer.Option(help="a model (default: routing)")] = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """An answer citing the passages it rests on (no model: the passages are the answer)."""

        async def work(kb: KnowledgeBase, context: Any) -> Answer:
            return await answer(kb, context, question, Filters(tags=list(tag or [])), model)

        async def remote(session: CliSession) -> Answer:
            body = {"question": question, "tags": list(tag or []), "model": model}
            return Answer.model_validate(await ask_daemon(session, "/answer", body))

        found = run(config, work, remote)
        if json_out:
            _json(found.model_dump())
            return
        if found.answer is not None:
            _out().print(found.answer, markup=False)
            cited = [p for p in found.passages if p.rank in found.citations]
            for p in cited:
                print(f"  [{p.rank}] {p.citation}")
        else:
            _show_passages(found.passages)
        for note in found.notes:
            print(f"note: {note}", file=sys.stderr)

    @app.command("docs")
    def docs(
        tag: Annotated[str | None, typer.Option(help="only this tag")] = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """The documents in the knowledge base."""

        async def work(kb: KnowledgeBase, context: Any) -> Any:
            return await asyncio.to_thread(kb.catalog.list, tag, None, 1000, 0)

        items, total = run(config, work)
        if json_out:
            _json([d.model_dump() for d in items])
            return
        table = Table("id", "title", "kind", "version", "chunks", "tags", "source")
        for d in items:
            table.add_row(
                d.id, d.title, d.kind, d.version, str(d.chunks), ", ".join(d.tags), d.source
            )
        _out().print(table)
        print(f"{total} documents", file=sys.stderr)

    @app.command("delete")
    def delete(
        documents: Annotated[
            list[str], typer.Argument(help="document ids (see `genosd rag docs`)")
        ],
        config: ConfigOption = None,
    ) -> None:
        """Remove documents and their chunks (one job)."""
        job = run_as_job(config, "delete", list(dict.fromkeys(documents)), {}, False)
        for error in job.errors:
            print(f"failed   {error}", file=sys.stderr)
        print(f"job {job.id} {job.state}: {job.cursor - job.failed} deleted, {job.failed} failed")
        if job.failed or job.state != "done":
            raise typer.Exit(1)

    @app.command("reindex")
    def reindex(config: ConfigOption = None, json_out: JsonOption = False) -> None:
        """Weigh and embed every document again from its stored chunks (after changing
        plugins.rag.embedder: the new model's vectors replace the old ones)."""

        async def documents(kb: KnowledgeBase, context: Any) -> list[str]:
            return [
                d.id for d in (await asyncio.to_thread(kb.catalog.list, None, None, 10**7, 0))[0]
            ]

        ids = run(config, documents)
        job = run_as_job(config, "reindex", ids, {}, json_out)
        if json_out:
            _json(job.model_dump())
        else:
            print(
                f"job {job.id} {job.state}: {job.cursor - job.failed} re-indexed, {job.failed} failed"
            )
        if job.failed or job.state != "done":
            raise typer.Exit(1)

    def run_as_job(
        config: Path | None, kind: JobKind, items: list[str], args: dict[str, Any], quiet: bool
    ) -> JobRecord:
        """Queue a job and run it here, or follow it while the daemon (holding the store) runs
        it; Ctrl-C cancels it."""
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())

        async def main() -> JobRecord:
            async with open_plugin(config) as session:
                queue = job_queue(session.context)
                job = await asyncio.to_thread(queue.queue, kind, items, args, session.actor)
                await session.context.audit(
                    session.actor, f"{kind}_job", job.id, {"items": len(items)}
                )
                with Progress(*columns, console=Console(stderr=True), disable=quiet) as bar:
                    task = bar.add_task(f"{kind} {job.id}", total=len(items))

                    def show(current: JobRecord) -> None:
                        bar.update(task, completed=current.cursor)

                    try:
                        return await _run_or_follow(session, queue, job, show)
                    except (KeyboardInterrupt, asyncio.CancelledError):
                        await asyncio.to_thread(queue.request_cancel, job.id)
                        raise

        return asyncio.run(main())

    return app
