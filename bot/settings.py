"""Every setting, from CITEQA_* environment variables (or a .env file); built once per entry point."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.articles.folder import MAX_ARTICLE_BYTES
from retrieval.embed.embedders import DEFAULT_MODEL
from retrieval.answer.reader import MODEL_DIR as READER_DIR
from retrieval.web.fetch import DEFAULT_CONTACT, MAX_BYTES as MAX_PAGE_BYTES

WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITEQA_", env_file=".env", extra="ignore")

    corpus: Path = Field(Path("seeds"), description="folder of article files (.txt, .md, .html) and of an optional feeds.txt")
    index: Path = Field(Path(".citeqa/index"), description="where index versions are published")
    store_uri: str | None = Field(None, description="unset: the FAISS versions in CITEQA_INDEX; a path ending in .db: an embedded milvus-lite file; http(s)://host:port: a Milvus server or cluster")
    store_token: SecretStr | None = Field(None, description="the Milvus server's token (user:password or an API key), with an http(s) CITEQA_STORE_URI")
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model: the packaged MiniLM, a local folder, or a hub name")
    embed_backend: Literal["torch", "onnx"] = Field("onnx", description="what runs the model: ONNX Runtime on an export cached beside the index folder (made on first use), or sentence-transformers on torch; same vectors, so either serves an index the other built")
    dense_index: Literal["flat", "ivf", "auto"] = Field("flat", description="FAISS index of each version: flat is exact; ivf is approximate (inverted lists, many times faster at 100k passages); auto is ivf from 20,000 passages")
    reader: Path = Field(READER_DIR, description="folder of the extractive reader: its int8 ONNX weights and manifest (checked by sha256 at load)")
    retriever: Literal["dense", "bm25", "rrf", "hybrid"] = Field("hybrid", description="how passages are found")
    max_article_bytes: int = Field(MAX_ARTICLE_BYTES, gt=0, description="larger article files are skipped")
    article_settle_seconds: float = Field(0, ge=0, description="a refresh skips article files modified more recently than this (still being written)")
    host: str = Field("127.0.0.1", description="address `citeqa serve` listens on")
    port: int = Field(8000, ge=0, le=65535, description="port `citeqa serve` listens on")
    reload_seconds: float = Field(2.0, gt=0, description="how often a server looks for a newly published index")
    log_level: str = Field("INFO", description="logging level")
    conversations: Path = Field(Path(".citeqa/conversations.sqlite"), description="conversation store shared by the API and the bot")
    conversation_ttl_seconds: float = Field(24 * 3600, gt=0, description="a conversation idle this long is forgotten")
    conversation_purge_seconds: float = Field(3600, gt=0, description="how often each server deletes expired conversations from the store")
    conversation_max_turns: int = Field(10, ge=1, description="turns of a conversation kept as context")
    # Feeds (a feeds.txt in the corpus folder): what `citeqa refresh` and the admin refresh fetch
    fetch_contact: str = Field(DEFAULT_CONTACT, min_length=3, description="how a site's operator reaches whoever runs this citeqa (a URL or an e-mail address), sent in the User-Agent `citeqa/<version> (news question answering; +<contact>)`")
    fetch_timeout_seconds: float = Field(15, gt=0, description="time limit of one request of a feed or a page")
    feed_timeout_seconds: float = Field(120, gt=0, description="time limit of one feed and all its pages in a refresh")
    fetch_max_bytes: int = Field(MAX_PAGE_BYTES, gt=0, description="larger feeds and pages are not fetched")
    fetch_pause_seconds: float = Field(0.5, ge=0, description="wait between two pages of one feed (politeness to its site)")
    # HTTP API
    admin_token: SecretStr | None = Field(None, description="Bearer token of the /v1/admin routes; unset, they do not exist")
    rate_limit_per_minute: float = Field(60, ge=0, description="requests a client may make to /v1 each minute; 0 turns the limit off")
    rate_limit_burst: int = Field(20, ge=1, description="requests a client may make at once before the per-minute rate applies")
    max_body_bytes: int = Field(16 * 1024, ge=1024, description="larger request bodies are refused with 413")
    # Telegram
    telegram_token: SecretStr | None = Field(None, description="the bot's token from @BotFather; `citeqa telegram` needs it")
    telegram_api_url: str = Field("https://api.telegram.org/bot", description="Bot API base URL, as python-telegram-bot's base_url takes it (the token is appended)")
    telegram_webhook_secret: SecretStr | None = Field(None, description="secret Telegram sends with each webhook update; with the token set, the HTTP API serves POST /telegram/webhook")
    telegram_rate_limit: int = Field(6, ge=0, description="questions a chat may ask per window; 0 turns the limit off")
    telegram_rate_window_seconds: float = Field(60, gt=0, description="the window of the per-chat rate limit")
    telegram_examples: list[str] = Field(default_factory=list, description="example questions /start shows (JSON list); empty: made from article titles")

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret_telegram_accepts(cls, secret: SecretStr | None) -> SecretStr | None:
        # Telegram's own rule for secret_token; checked here, since a SecretStr takes no pattern.
        if secret is not None and not WEBHOOK_SECRET.fullmatch(secret.get_secret_value()):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and -")
        return secret


def make_store(settings: Settings):
    """The store the settings choose; StoreUnavailable (naming the setting) when it cannot be used."""
    from retrieval.index.connect import open_store

    token = settings.store_token.get_secret_value() if settings.store_token else None
    return open_store(settings.index, settings.store_uri, token)


def make_embedder(settings: Settings):
    from retrieval.embed.embedders import HashingEmbedder, SentenceTransformerEmbedder

    # "hashing-<dim>" is the deterministic embedder: for tests and demos without a model.
    if settings.model.startswith("hashing-") and settings.model[8:].isdigit():
        return HashingEmbedder(int(settings.model[8:]))
    if settings.embed_backend == "onnx":
        from retrieval.embed.onnx_embedder import OnnxEmbedder

        # Beside the index folder (.citeqa/onnx for .citeqa/index), never inside it: the store owns that.
        return OnnxEmbedder(settings.model, cache_dir=settings.index.parent / "onnx")
    return SentenceTransformerEmbedder(settings.model)
