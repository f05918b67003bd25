"""A working plugin with an operator route, a job and its own topic."""

from aiohttp import web
from pydantic import BaseModel, ConfigDict

import genosd
from genosd.api.spec import Api
from genosd.auth.keys import Role
from genosd.events import Topic
from genosd.pluginhost.contract import Job


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"


@genosd.hookimpl
def genosd_config_model():
    return Settings


@genosd.hookimpl
def genosd_topics():
    return [Topic("good.echo", Role.viewer, "echoed texts")]


@genosd.hookimpl
def genosd_routes(config, context):
    api = Api("good", "1")

    @api.route("POST", "/echo", tag="good", role=Role.operator, body=Echo, response=Echo)
    async def echo(request: web.Request, body: Echo) -> Echo:
        context.publish("good.echo", {"text": body.text})
        return Echo(text=f"{config.greeting} {body.text}")

    return api


@genosd.hookimpl
def genosd_jobs(config, context):
    async def tick():
        context.shared["ticks"] = context.shared.get("ticks", 0) + 1
        if context.shared["ticks"] == 2:
            raise RuntimeError("second tick fails")

    return [Job("tick", tick, every=1)]
