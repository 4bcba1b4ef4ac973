"""Settings of the orchestrator, from ``RAGSERVE_ORCHESTRATOR_*`` variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragserve.orchestrator.query.chat import (
    DEFAULT_PROMPT_TEMPLATE,
    DEFAULT_SYSTEM_PROMPT,
    ChatConfig,
)

GRPC_PORT = 50052
METRICS_PORT = 9152

# Peers' default ports (DESIGN.md's table); their addresses come from
# RAGSERVE_EMBEDDING_ROUTER_ADDR and RAGSERVE_RETRIEVAL_ADDR.
EMBEDDING_ROUTER_PORT = 50053
RETRIEVAL_PORT = 50054


class OrchestratorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAGSERVE_ORCHESTRATOR_", frozen=True, extra="ignore"
    )

    # Documents of one Ingest stream processed at once (parse, embed, upsert); the stream
    # reads no further document while this many await their acks, so a slow router or
    # retrieval slows the client instead of growing memory.
    ingest_concurrency: int = Field(default=8, ge=1, le=256)
    # Chunk texts per EmbedStream message to the router (one batch).
    embed_batch_texts: int = Field(default=64, ge=1, le=2048)
    # Embedding batches of one Ingest stream in flight at the router at once.
    embed_window: int = Field(default=4, ge=1, le=64)
    # Points per Upsert message to retrieval (retrieval accepts at most 1024).
    upsert_batch_points: int = Field(default=256, ge=1, le=1024)
    # Seconds a model's tokenizer (from the router's GetTokenizer) is reused before it is
    # asked for again, so a new model version is picked up.
    tokenizer_ttl_s: float = Field(default=300.0, gt=0, le=86_400)
    # Seconds a call to the router or retrieval may take when the caller set no deadline.
    peer_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # Largest Ingest stream lifetime is the caller's deadline; this is the most time one
    # document's own work (parse to durable upsert) may take, in seconds.
    document_timeout_s: float = Field(default=300.0, gt=0, le=3600)
    # Query: seconds a collection's model binding (a registry lookup in retrieval) is
    # reused; 0 looks it up on every query.
    collection_binding_ttl_s: float = Field(default=5.0, ge=0, le=3600)
    # Query, extractive answers: most sentences quoted.
    extractive_max_sentences: int = Field(default=3, ge=1, le=20)
    # Query, chat answers: base URL of an OpenAI-compatible API (ending in /v1, e.g.
    # http://localhost:11434/v1 for Ollama); empty = no chat generator (a chat request is
    # answered extractively, with a warning).
    chat_url: str = Field(default="", max_length=2048)
    # Model name sent to the chat endpoint.
    chat_model: str = Field(default="", max_length=256)
    # Name of the environment variable holding the chat endpoint's API key (sent as a
    # Bearer token); empty = no key.
    chat_api_key_env: str = Field(default="", max_length=256)
    # Seconds a chat completion may take when the caller set no deadline.
    chat_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    # System prompt of the chat generator.
    chat_system_prompt: str = Field(default=DEFAULT_SYSTEM_PROMPT, min_length=1, max_length=8192)
    # User prompt template; {context} gets the numbered hits, {question} the query.
    chat_prompt_template: str = Field(
        default=DEFAULT_PROMPT_TEMPLATE, min_length=1, max_length=8192
    )

    @model_validator(mode="after")
    def _chat_is_complete(self) -> OrchestratorSettings:
        if self.chat_url and not self.chat_model:
            raise ValueError("RAGSERVE_ORCHESTRATOR_CHAT_MODEL must be set with CHAT_URL")
        if self.chat_url and not self.chat_url.startswith(("http://", "https://")):
            raise ValueError("RAGSERVE_ORCHESTRATOR_CHAT_URL must start with http:// or https://")
        for placeholder in ("{context}", "{question}"):
            if placeholder not in self.chat_prompt_template:
                raise ValueError(
                    f"RAGSERVE_ORCHESTRATOR_CHAT_PROMPT_TEMPLATE must contain {placeholder}"
                )
        return self

    def chat_config(self) -> ChatConfig | None:
        if not self.chat_url:
            return None
        return ChatConfig(
            url=self.chat_url,
            model=self.chat_model,
            api_key_env=self.chat_api_key_env,
            system_prompt=self.chat_system_prompt,
            prompt_template=self.chat_prompt_template,
        )
