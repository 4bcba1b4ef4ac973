"""A call's own mistakes, found before any work: INVALID_ARGUMENT naming the field, or NOT_FOUND
for a model not served here. No message contains a caller's text."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ragserve.embedding_router.config import ID_PATTERN, ModelConfig
from ragserve.embedding_router.tokens import TokenCounter, count_tokens
from ragserve.embedding_router.types import EmbedCall
from ragserve.errors import InvalidArgument, NotFound

_TENANT_ID = re.compile(ID_PATTERN)


def validate_call(
    call: EmbedCall, models: Mapping[str, ModelConfig], max_texts: int
) -> ModelConfig:
    """The call's model, once the call is well formed."""
    if not _TENANT_ID.fullmatch(call.tenant):
        raise InvalidArgument(
            "tenant",
            "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter "
            "or digit",
        )
    model = models.get(call.model)
    if not call.model:
        raise InvalidArgument("model", "must name a model")
    if model is None:
        raise NotFound(
            f"model {call.model!r} is not served here (models: {', '.join(sorted(models))})"
        )
    if not call.texts:
        raise InvalidArgument("texts", "must contain at least one text")
    if len(call.texts) > max_texts:
        raise InvalidArgument("texts", f"{len(call.texts)} texts exceed the limit of {max_texts}")
    if not 0 <= call.priority <= 2:
        raise InvalidArgument("priority", f"must be 0, 1 or 2, got {call.priority}")
    for index, text in enumerate(call.texts):
        if not text:
            raise InvalidArgument(f"texts[{index}]", "must not be empty")
    return model


async def refuse_over_limit(
    model: ModelConfig, counter: TokenCounter, texts: Sequence[str], unique: Sequence[str]
) -> None:
    """Truncation 'refuse': the first text over the model's max_tokens is an error naming its
    index in ``texts``. ``unique`` holds each text of ``texts`` once (each is counted once)."""
    counts = dict(zip(unique, await count_tokens(counter, unique), strict=True))
    for index, text in enumerate(texts):
        tokens = counts[text]
        if tokens <= model.max_tokens:
            continue
        if counter.exact:
            raise InvalidArgument(
                f"texts[{index}]",
                f"text has {tokens} tokens, model {model.id!r} accepts at most "
                f"{model.max_tokens} (max_tokens) and truncation is 'refuse'",
            )
        raise InvalidArgument(
            f"texts[{index}]",
            f"text has about {tokens} tokens (estimated), model {model.id!r} accepts at "
            f"most {model.max_tokens} (max_tokens) and truncation is 'refuse'",
        )
