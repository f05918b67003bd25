"""flapdetect: the example plugin — raises an alert when an interface keeps going up and down.

It shows every part of the plugin contract in a small, real feature:
  * settings validated by its own model (`plugins.flapdetect` in genosd.yaml);
  * a points sink that watches `ifOperStatus` on the `interface` measurement after each poll;
  * an `alert` event (and its own `flapdetect.flap` topic) when an interface changes state
    `threshold` times within `window` seconds, then silence for `hold_down` seconds;
  * a route `GET /api/v1/plugins/flapdetect/flaps` (viewer) and a tool `interface_flaps` for chat;
  * a job that forgets old transitions.
Status is sampled at each poll, so a flap that starts and ends between two polls is not seen.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genosd.plugin import Api, Job, PluginContext, Point, Role, Sink, Tool, Topic, hookimpl
from plugins.flapdetect.detector import FlapDetector
from plugins.flapdetect.routes import flap_routes


class FlapSettings(BaseModel):
    """plugins.flapdetect in genosd.yaml."""

    model_config = ConfigDict(extra="forbid")

    window: float = Field(900.0, ge=60, description="seconds over which changes are counted")
    threshold: int = Field(3, ge=2, le=1000, description="changes within the window that alert")
    hold_down: float = Field(1800.0, ge=0, description="seconds before the same port alerts again")


class FlapQuery(BaseModel):
    """Arguments of the interface_flaps tool."""

    model_config = ConfigDict(extra="forbid")

    device: str | None = Field(None, description="only this device")


def _detector(config: FlapSettings, context: PluginContext) -> FlapDetector:
    # the hooks share one detector through the context (no module-level state)
    detector: FlapDetector = context.get_or_create(
        "detector",
        lambda: FlapDetector(config.window, config.threshold, config.hold_down, context.publish),
    )
    return detector


@hookimpl
def genosd_config_model() -> type[BaseModel]:
    """Settings model."""
    return FlapSettings


@hookimpl
def genosd_topics() -> list[Topic]:
    """Its own topic, besides `alert`."""
    return [Topic("flapdetect.flap", Role.viewer, "an interface is flapping")]


@hookimpl
def genosd_sinks(config: FlapSettings, context: PluginContext) -> list[Sink]:
    """Watch interface status in every poll's points."""
    detector = _detector(config, context)

    async def on_points(points: list[Point]) -> None:
        detector.observe(points)

    return [Sink("interface_status", on_points=on_points)]


@hookimpl
def genosd_routes(config: FlapSettings, context: PluginContext) -> Api:
    """GET /api/v1/plugins/flapdetect/flaps."""
    return flap_routes(_detector(config, context))


@hookimpl
def genosd_tools(config: FlapSettings, context: PluginContext) -> list[Tool]:
    """`interface_flaps` for the chat assistant and ChatOps."""
    detector = _detector(config, context)

    async def run(args: BaseModel) -> Any:
        assert isinstance(args, FlapQuery)
        return [f.model_dump() for f in detector.flapping(args.device)]

    return [Tool("interface_flaps", "Interfaces that changed state often recently", FlapQuery, run)]


@hookimpl
def genosd_jobs(config: FlapSettings, context: PluginContext) -> list[Job]:
    """Forget transitions older than the window once a minute."""
    detector = _detector(config, context)

    async def prune() -> None:
        detector.prune()

    return [Job("prune", prune, every=60)]
