"""A working plugin with an operator route, a job and its own topic."""

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from genosd.plugin import Api, Job, Role, Topic, hookimpl


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"


@hookimpl
def genosd_config_model():
    return Settings


@hookimpl
def genosd_topics():
    return [Topic("good.echo", Role.viewer, "echoed texts")]


@hookimpl
def genosd_routes(config, context):
    api = Api("good", "1")

    @api.route("POST", "/echo", tag="good", role=Role.operator, body=Echo, response=Echo)
    async def echo(request: web.Request, body: Echo) -> Echo:
        context.publish("good.echo", {"text": body.text})
        return Echo(text=f"{config.greeting} {body.text}")

    return api


@hookimpl
def genosd_jobs(config, context):
    async def tick():
        context.shared["ticks"] = context.shared.get("ticks", 0) + 1
        if context.shared["ticks"] == 2:
            raise RuntimeError("second tick fails")

    return [Job("tick", tick, every=1)]


@hookimpl
def genosd_cli(open_plugin):
    import asyncio

    import typer

    app = typer.Typer()

    @app.command("greet")
    def greet(name: str, config: str = typer.Option(None, "--config")):
        async def work():
            async with open_plugin(config) as session:
                await session.context.audit(session.actor, "greet", name)
                return f"{session.config.greeting} {name} from {session.actor}"

        print(asyncio.run(work()))

    @app.command("other")
    def other():
        print("a second command keeps `greet` a subcommand")

    return app
