"""A plugin with a settings model that the test configures wrongly."""

from pydantic import BaseModel, ConfigDict

from genosd.plugin import hookimpl


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: int = 3


@hookimpl
def genosd_config_model():
    return Settings
