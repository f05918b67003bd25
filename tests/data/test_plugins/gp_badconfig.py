"""A plugin with a settings model that the test configures wrongly."""

from pydantic import BaseModel, ConfigDict

import genosd


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: int = 3


@genosd.hookimpl
def genosd_config_model():
    return Settings
