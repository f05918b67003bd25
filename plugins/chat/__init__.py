"""chat: the assistant — conversations with genosd's tools, agents, analytics.

Each message is answered by the LLM with genosd's tools (device status, metrics, interface
problems, neighbours, configs and diffs, compliance, playbook runs, the knowledge base, read-only
show commands), each call role-checked, validated, capped and audited; changes can only be
drafted as change requests a person approves. Conversations are kept per user (title, export,
delete), older turns summarised to fit the model's window, answers streamed over a WebSocket and
rated by their readers. Agents are configured assistants (prompt, model, tools, knowledge tags,
limits, saved tests); three ship. Playbooks ask agents with the `agent` action. Routes:
/api/v1/plugins/chat/…; CLI: `genosd chat …`. Stored in <state_dir>/plugins/chat/chat.sqlite3.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from genosd.plugin import Api, Job, OpenPlugin, PluginContext, Task, hookimpl
from plugins.chat.settings import ChatSettings


def chat_service(config: ChatSettings, context: PluginContext) -> Any:
    """The plugin's one service (its store opened on first use)."""
    from plugins.chat.conversation import ChatService
    from plugins.chat.store import ChatStore

    def create() -> ChatService:
        return ChatService(config, context, ChatStore(context.data_dir / "chat.sqlite3"))

    return context.get_or_create("service", create)


@hookimpl
def genosd_config_model() -> type[BaseModel]:
    """Settings model."""
    return ChatSettings


@hookimpl
def genosd_routes(config: ChatSettings, context: PluginContext) -> Api:
    """Conversations, the streaming WebSocket, feedback, analytics and agents."""
    from plugins.chat.routes import chat_routes

    return chat_routes(chat_service(config, context))


@hookimpl
def genosd_tasks(config: ChatSettings, context: PluginContext) -> list[Task]:
    """`agent`: a playbook step that asks an agent about each host."""
    from plugins.chat.task import agent_task

    return [agent_task(chat_service(config, context), context)]


@hookimpl
def genosd_jobs(config: ChatSettings, context: PluginContext) -> list[Job]:
    """`prune`: forget idle conversations and each user's beyond `sessions_per_user`."""
    import asyncio
    import time

    async def prune() -> int:
        store = chat_service(config, context).store
        idle = time.time() - config.retention_days * 86400 if config.retention_days else None
        return await asyncio.to_thread(store.prune, idle, config.sessions_per_user)

    return [Job("prune", prune, every=3600, quiet=True)]


@hookimpl
def genosd_cli(open_plugin: OpenPlugin) -> Any:
    """`genosd chat` (interactive), and its sessions, stats and agents."""
    from plugins.chat.cli import commands

    return commands(open_plugin)
