"""The ``trust`` table of a node's or broker's config, and the verifier it makes.

::

    [node.trust]                      # or [broker.trust]
    bundle = "trust.json"             # issuers and courts this party trusts
    revocations = "revocations.json"  # revoked credentials, issuers, agency types
    max_age_seconds = 86400           # older files: release nothing until refreshed
    clock_skew_seconds = 60           # tolerance for credential and proof times
    authority_key = "federation.pub.pem"  # pinned: only a bundle it signed is used
    source = "https://trust.example.org/federation/"  # optional: fetch both from here
    refresh_seconds = 3600            # how often (needs authority_key)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fieldgate.core.config import ConfigError, Section
from fieldgate.trust.keys import load_public_key
from fieldgate.trust.refresh import TrustRefresher
from fieldgate.trust.trust_bundle import TrustStore
from fieldgate.trust.verify import SearchVerifier


@dataclass(frozen=True)
class TrustConfig:
    """Where the trust bundle and revocation list are, and how strict to be."""

    bundle: Path
    """The trust bundle (JSON)."""
    revocations: Path
    """The revocation list (JSON)."""
    max_age_seconds: float = 86400.0
    """Oldest ``issued_at`` accepted for either file."""
    clock_skew_seconds: float = 60.0
    """Clock tolerance for credential validity and proof timestamps."""
    authority_key: Path | None = None
    """The pinned federation authority key: an unsigned or wrongly signed bundle is refused."""
    source: str | None = None
    """Where the federation publishes both files (URL prefix or directory); None: no refresh."""
    refresh_seconds: float = 3600.0
    """How often to refresh from ``source`` (:mod:`fieldgate.trust.refresh`)."""


def trust_config(section: Section) -> TrustConfig:
    """Read a ``trust`` table, naming any bad key."""
    config = TrustConfig(
        bundle=section.path("bundle"),
        revocations=section.path("revocations"),
        max_age_seconds=section.number("max_age_seconds", 86400.0, minimum=1.0),
        clock_skew_seconds=section.number("clock_skew_seconds", 60.0, minimum=1.0),
        authority_key=section.optional_path("authority_key"),
        source=section.string("source") if section.has("source") else None,
        refresh_seconds=section.number("refresh_seconds", 3600.0, minimum=10.0),
    )
    if config.source is not None and config.authority_key is None:
        raise ConfigError(
            section.key_name("source"), "needs authority_key: fetched trust must be verified"
        )
    section.finish()
    return config


def build_store(config: TrustConfig) -> TrustStore:
    """A store watching the configured files, pinning the authority key if configured.

    Raises:
        fieldgate.trust.keys.KeyFileError: the authority key cannot be read.
    """
    authority = None if config.authority_key is None else load_public_key(config.authority_key)
    return TrustStore(
        config.bundle,
        config.revocations,
        max_age=dt.timedelta(seconds=config.max_age_seconds),
        authority=authority,
    )


def build_verifier(config: TrustConfig) -> SearchVerifier:
    """A verifier watching the configured files."""
    return SearchVerifier(build_store(config), skew_seconds=config.clock_skew_seconds)


def build_refresher(config: TrustConfig) -> TrustRefresher | None:
    """The scheduled refresh of the configured files (None without a ``source``); not started."""
    if config.source is None or config.authority_key is None:
        return None
    return TrustRefresher(
        config.source,
        config.bundle,
        config.revocations,
        authority=load_public_key(config.authority_key),
        max_age=dt.timedelta(seconds=config.max_age_seconds),
        every_seconds=config.refresh_seconds,
    )
