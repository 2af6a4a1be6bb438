"""Turn chat messages into the prompt text the model was trained on."""

from __future__ import annotations

import json
import logging
from typing import Sequence

log = logging.getLogger(__name__)

PROBE_CONVERSATION = ({"role": "system", "content": "probe"}, {"role": "user", "content": "probe"})
ROLE_ALIASES = {"developer": "system"}


def fallback_prompt(messages: Sequence[dict[str, str]]) -> str:
    """The documented format for models shipped without a chat template: `<|role|>\\ntext<|end|>\\n` per turn."""
    turns = "".join(f"<|{message['role']}|>\n{message['content']}<|end|>\n" for message in messages)
    return f"{turns}<|assistant|>\n"


class PromptRenderer:
    """Apply the model's chat template (or an override file), else the fallback format."""

    def __init__(self, tokenizer, template_override: str | None = None) -> None:
        self._tokenizer = tokenizer
        self._template = template_override
        self.source = "override" if template_override is not None else "model"
        try:
            self._apply(PROBE_CONVERSATION)
        except RuntimeError as error:
            if template_override is not None:
                raise ValueError(f"the chat template file cannot be applied: {error}") from error
            log.warning("model has no usable chat template (%s); using the fallback prompt format", error)
            self.source = "fallback"

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt for `messages`, ending where the assistant's reply starts."""
        normalised = [{**message, "role": ROLE_ALIASES.get(message["role"], message["role"])} for message in messages]
        if self.source == "fallback":
            return fallback_prompt(normalised)
        return self._apply(normalised)

    def _apply(self, messages: Sequence[dict[str, str]]) -> str:
        return self._tokenizer.apply_chat_template(
            json.dumps(list(messages)), template_str=self._template, add_generation_prompt=True
        )
