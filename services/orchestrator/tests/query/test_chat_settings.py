"""The chat generator's settings: complete or refused at start-up, naming the variable."""

from __future__ import annotations

import pydantic
import pytest

from ragserve.orchestrator.settings import OrchestratorSettings


def test_no_chat_url_means_no_chat_generator() -> None:
    assert OrchestratorSettings().chat_config() is None


def test_a_chat_endpoint_with_its_model_and_key_variable() -> None:
    settings = OrchestratorSettings(
        chat_url="http://localhost:11434/v1", chat_model="llama3", chat_api_key_env="KEY"
    )
    config = settings.chat_config()
    assert config is not None
    assert config.completions_url == "http://localhost:11434/v1/chat/completions"
    assert (config.model, config.api_key_env) == ("llama3", "KEY")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"chat_url": "http://x/v1"}, "RAGSERVE_ORCHESTRATOR_CHAT_MODEL must be set"),
        ({"chat_url": "x/v1", "chat_model": "m"}, "CHAT_URL must start with http://"),
        ({"chat_prompt_template": "no slots"}, "CHAT_PROMPT_TEMPLATE must contain {context}"),
    ],
)
def test_incomplete_chat_settings_are_refused(fields: dict[str, str], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        OrchestratorSettings(**fields)  # type: ignore[arg-type]
