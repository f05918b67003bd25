"""plugins.chatops in genosd.yaml: Slack, Mattermost, and who may do what from a chat."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

RoleName = Literal["viewer", "operator", "admin"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Grant(_Model):
    """Chat users allowed a role (globs; every field must match). Nobody is allowed anything
    a grant does not give: deny by default."""

    platform: Literal["slack", "mattermost", "*"] = "*"
    team: str = Field("*", description="team/workspace id")
    channel: str = Field("*", description="channel id or name")
    user: str = Field("*", description="user id or name")
    role: RoleName = "viewer"
    commands: list[str] = Field(
        default_factory=lambda: ["*"], description="the commands this grant covers (globs)"
    )


class SlackSettings(_Model):
    """A Slack app: slash command and interactivity request URLs point at genosd."""

    enabled: bool = False
    signing_secret: SecretStr | None = Field(
        None, description="the app's signing secret (requests are refused without it)"
    )
    bot_token: SecretStr | None = Field(
        None, description="xoxb- token: notifications and threads via chat.postMessage"
    )
    api_url: str = Field("https://slack.com/api/", description="Slack's Web API base URL")
    channel: str | None = Field(None, description="channel id for notifications")
    max_age: float = Field(300.0, ge=30, le=900, description="s a signed request stays valid")
    socket_mode: bool = Field(
        False,
        description="take commands and clicks over a WebSocket genosd opens to Slack (no public "
        "request URL needed; needs app_token)",
    )
    app_token: SecretStr | None = Field(None, description="xapp- token with connections:write")

    @field_validator("api_url")
    @classmethod
    def _slash(cls, url: str) -> str:
        return url if url.endswith("/") else url + "/"


class MattermostSettings(_Model):
    """A Mattermost slash command (its token) and an incoming webhook for notifications."""

    enabled: bool = False
    tokens: list[SecretStr] = Field(
        default_factory=list,
        description="the slash commands' tokens (any of them is accepted); from a secrets file "
        "or the environment: one token, or several separated by commas",
    )
    webhook_url: SecretStr | None = Field(
        None, description="an incoming webhook URL for notifications (it holds a key)"
    )
    channel: str | None = Field(None, description="the channel notifications go to")

    @field_validator("tokens", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [t.strip() for t in value.replace("\n", ",").split(",") if t.strip()]
        return value


class ChatOpsSettings(_Model):
    """The ChatOps bot."""

    slack: SlackSettings = SlackSettings()
    mattermost: MattermostSettings = MattermostSettings()
    access: list[Grant] = Field(default_factory=list, description="deny by default")
    public_url: str = Field(
        "http://127.0.0.1:8470",
        description="where the chat servers reach genosd (Mattermost button callbacks)",
    )
    action_secret: SecretStr | None = Field(
        None,
        description="key that signs interactive buttons' contexts (Mattermost does not sign "
        "its callbacks); default: derived from the platform secrets",
    )
    reply_chars: int = Field(3000, ge=500, le=40_000, description="longer: split into a thread")
    answer_within: float = Field(
        2.5, gt=0, le=2.9, description="s to answer inline; slower work answers later"
    )
    notify_runs: bool = Field(True, description="post runs waiting for approval and finished")
    notify_config_changes: bool = Field(True, description="post config changes found")
    summarise_changes: bool = Field(
        False,
        description="an LLM summary and risk of each config change (the `diff-summary` prompt)",
    )
    change_poll: float = Field(60.0, ge=5, le=3600, description="s between looks for changes")
