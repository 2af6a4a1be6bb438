"""The OpenAI chat completions request body, validated once at the edge."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

MAX_STOP_SEQUENCES = 4


class TextPart(BaseModel):
    """A text part of a message's content list; other part types (images, audio) are not served."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One turn of the conversation."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[TextPart], None] = None

    def text(self) -> str:
        """The message's text, with a content list joined in order."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    """Options for streamed responses."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


NonEmptyText = Annotated[str, StringConstraints(min_length=1)]


class ChatCompletionRequest(BaseModel):
    """The fields of POST /v1/chat/completions this server honours; others are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: NonEmptyText
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    n: Literal[1] = 1
    stop: Union[NonEmptyText, list[NonEmptyText], None] = None
    stream: bool = False
    stream_options: StreamOptions | None = None

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

    def include_usage(self) -> bool:
        """Whether a streamed response ends with a usage chunk."""
        return self.stream_options is not None and self.stream_options.include_usage
