"""`genosd rag ingest|query|ask|docs|delete`: the knowledge base from the command line.

The commands open the knowledge base themselves; in local mode Qdrant allows one process at a
time, so while the daemon has it open they say so (use the API then, or a Qdrant server)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from genosd.plugin import OpenPlugin
from plugins.rag import knowledge_base
from plugins.rag.index import Filters, Mode
from plugins.rag.ingest import Ingested, KnowledgeBase, Metadata, files_under
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


def commands(open_plugin: OpenPlugin) -> typer.Typer:
    """The `genosd rag` command group."""
    app = typer.Typer(help="The knowledge base: documents, search, answers", no_args_is_help=True)

    def run(config: Path | None, work: Callable[[KnowledgeBase, Any], Awaitable[T]]) -> T:
        async def main() -> T:
            async with open_plugin(config) as session:
                kb = await asyncio.to_thread(knowledge_base, session.config, session.context)
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
        """Add files and folders (Markdown, text, HTML, PDF, man pages); a file that cannot be
        read is reported and skipped (exit 1 when any failed)."""
        files = [f for p in paths for f in (files_under(p) if p.exists() else [p])]

        async def work(kb: KnowledgeBase, context: Any) -> list[Ingested]:
            results = []
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=Console(stderr=True), disable=json_out) as bar:
                task = bar.add_task("ingesting", total=len(files))
                for file in files:
                    try:
                        data = await asyncio.to_thread(file.read_bytes)
                    except OSError as exc:
                        results.append(Ingested(str(file), error=f"{file}: {exc.strerror}"))
                    else:
                        meta = Metadata(tags=list(tag or []), version=version)
                        source = str(file.resolve())
                        results.append(await kb.ingest(file.name, data, source, meta))
                    bar.advance(task)
            return results

        results = run(config, work)
        if json_out:
            _json(
                [
                    {
                        "source": r.source,
                        "outcome": r.outcome,
                        "error": r.error,
                        "document": r.document.model_dump() if r.document else None,
                    }
                    for r in results
                ]
            )
        else:
            for r in results:
                if r.error:
                    print(f"failed   {r.error}", file=sys.stderr)
                elif r.document is not None:
                    print(f"{r.outcome:<9}{r.source} ({r.document.chunks} chunks, {r.document.id})")
        if any(r.error for r in results):
            raise typer.Exit(1)

    @app.command("query")
    def query(
        text: Annotated[str, typer.Argument(help="what to look for")],
        mode: Annotated[str, typer.Option(help="hybrid, sparse or dense")] = "hybrid",
        limit: Annotated[int, typer.Option(min=1, max=50)] = 5,
        tag: TagOption = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """The best passages, with their citations."""
        if mode not in ("hybrid", "sparse", "dense"):
            raise typer.BadParameter("hybrid, sparse or dense", param_hint="--mode")
        chosen: Mode = mode  # type: ignore[assignment]

        async def work(kb: KnowledgeBase, context: Any) -> list[Passage]:
            return await search(kb, text, chosen, limit, Filters(tags=list(tag or [])))

        found = run(config, work)
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

        found = run(config, work)
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
        document: Annotated[str, typer.Argument(help="document id (see `genosd rag docs`)")],
        config: ConfigOption = None,
    ) -> None:
        """Remove a document and its chunks."""

        async def work(kb: KnowledgeBase, context: Any) -> Any:
            return await kb.delete(document)

        removed = run(config, work)
        print(f"deleted {removed.id} ({removed.source})")

    return app
