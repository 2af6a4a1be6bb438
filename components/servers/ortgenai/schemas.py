"""The OpenAI chat completions request body, typed as the OpenAI API reference types it, validated once at the edge.

Every top-level parameter of the reference is known here, so an unknown one is refused rather than silently
ignored; whether a known parameter's value can be honoured is decided in `capabilities`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

MAX_STOP_SEQUENCES = 4
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

NonEmptyText = Annotated[str, StringConstraints(min_length=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]


class ContentPart(BaseModel):
    """One part of a message's content list; only text (and an assistant's refusal text) can be served."""

    model_config = ConfigDict(extra="ignore", strict=True)

    type: str
    text: str | None = None
    refusal: str | None = None

    @model_validator(mode="after")
    def _text_parts_only(self) -> "ContentPart":
        if self.type not in ("text", "refusal"):
            raise ValueError(f"content parts of type {self.type[:40]!r} are not supported: this server reads text only")
        if getattr(self, self.type) is None:
            raise ValueError(f"a {self.type!r} content part needs a string field {self.type!r}")
        return self

    def value(self) -> str:
        """The part's text."""
        return self.text if self.type == "text" else self.refusal  # type: ignore[return-value]


class ChatMessage(BaseModel):
    """One turn of the conversation; fields other clients add to replayed turns (annotations, ...) are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Union[str, list[ContentPart], None] = None
    name: str | None = None
    refusal: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[Any] | None = None
    function_call: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None

    @field_validator("tool_calls")
    @classmethod
    def _no_tool_calls(cls, value):
        if value:
            raise ValueError("tool calls are not supported by this server, so a conversation cannot contain them")
        return value

    @field_validator("function_call", "audio")
    @classmethod
    def _no_function_call_or_audio(cls, value):
        if value is not None:
            raise ValueError("function calls and audio are not supported by this server")
        return value

    def text(self) -> str:
        """The message's text: content parts joined in order, else an assistant's refusal text."""
        if isinstance(self.content, list):
            return "".join(part.value() for part in self.content)
        if self.content:
            return self.content
        return self.refusal or ""


class StreamOptions(BaseModel):
    """Options for streamed responses."""

    model_config = ConfigDict(extra="ignore", strict=True)

    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class JsonSchemaFormat(BaseModel):
    """The `json_schema` member of `response_format`."""

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)

    name: str
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    """`response_format`: plain text, any JSON object, or JSON matching a schema."""

    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given_for_json_schema(self) -> "ResponseFormat":
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type 'json_schema' needs a 'json_schema' object")
        return self


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions: every parameter of the OpenAI reference, each nullable where it is there."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: NonEmptyText
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    n: int | None = Field(default=None, ge=1, le=128)
    stop: Union[NonEmptyText, list[NonEmptyText], None] = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, int] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Union[Literal["none", "auto", "required"], dict[str, Any], None] = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: Union[Literal["none", "auto"], dict[str, Any], None] = None
    audio: dict[str, Any] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    prediction: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    service_tier: str | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None
    moderation: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, value):
        if isinstance(value, list) and len(value) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
        return value

    def stop_sequences(self) -> tuple[str, ...]:
        """Stop sequences as a tuple, whichever form the client sent."""
        if self.stop is None:
            return ()
        if isinstance(self.stop, str):
            return (self.stop,)
        return tuple(self.stop)

    def requested_max_tokens(self) -> int | None:
        """The newer `max_completion_tokens` wins over the older `max_tokens`."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def streamed(self) -> bool:
        """Whether the reply is sent as server-sent events (null means no)."""
        return bool(self.stream)

    def include_usage(self) -> bool:
        """Whether a streamed response ends with a usage chunk."""
        return self.stream_options is not None and bool(self.stream_options.include_usage)

    def output_schema(self) -> dict[str, Any] | None:
        """The JSON schema the reply must match: any object for json_object, the given one for json_schema."""
        response_format = self.response_format
        if response_format is None or response_format.type == "text":
            return None
        if response_format.type == "json_object":
            return {"type": "object"}
        assert response_format.json_schema is not None
        schema = response_format.json_schema.json_schema
        return {} if schema is None else schema
