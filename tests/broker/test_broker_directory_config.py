"""``[broker.directory]`` and ``[broker.fanout]``: read, checked, and the addresses they make;
the channel pool's idle closing, over real channels; a national search's log line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fieldgate.broker.channel_pool import ChannelPool
from fieldgate.broker.config import DirectoryConfig, load_broker_config
from fieldgate.broker.directory import Roster, directory_entries, page, page_token
from fieldgate.broker.servicer import LOGGED_AGENCIES, outcomes_text
from fieldgate.core.config import ConfigError
from fieldgate.core.errors import InvalidRequestError
from fieldgate.v2 import broker_pb2
from tests.test_config import write

TRUSTED = """
[broker]
listen = "127.0.0.1:0"

[broker.tls]
ca = "ca.pem"
cert = "broker.pem"
key = "broker.key"

[broker.trust]
bundle = "trust.json"
revocations = "revocations.json"
authority_key = "federation.pub.pem"
"""
DIRECTORY = """
[broker.directory]
address = "{id}.nodes.example.org:8443"

[broker.directory.addresses]
kcso = "10.20.0.7:8443"
"""


def test_the_directory_needs_no_node_by_hand(tmp_path: Path) -> None:
    text = TRUSTED + DIRECTORY + "\n[broker.fanout]\nmax_unary_audience = 16\n"
    text += "connect_at_start = true\n"
    config = load_broker_config(write(tmp_path, text), env={})
    assert config.nodes == ()
    assert config.directory is not None
    assert config.directory.address_of("spd") == "spd.nodes.example.org:8443"
    assert config.directory.address_of("kcso") == "10.20.0.7:8443"
    assert config.fanout.max_unary_audience == 16
    assert config.fanout.channel_idle_seconds == 300.0
    assert config.fanout.connect_at_start


NO_ID = '\n[broker.directory]\naddress = "nodes.example.org:8443"\n'
NO_PORT = '\n[broker.directory]\naddress = "{id}.example.org"\n'
BY_HAND = '\n[[nodes]]\nid = "a"\nagency_name = "A"\naddress = "h:1"\n'
FANOUT = "\n[broker.fanout]\n"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (TRUSTED + NO_ID, "broker.directory.address"),
        (TRUSTED + NO_PORT, "broker.directory.address"),
        (TRUSTED + DIRECTORY + 'spd = "spd.example.org"\n', "broker.directory.addresses.spd"),
        (TRUSTED + DIRECTORY + "typo = 1\n", "broker.directory.addresses.typo"),
        (TRUSTED + DIRECTORY + BY_HAND, "nodes"),
        ("[broker]\ninsecure = true\n" + DIRECTORY, "broker.directory"),
        (
            TRUSTED + DIRECTORY + FANOUT + "max_unary_audience = 0\n",
            "broker.fanout.max_unary_audience",
        ),
        (
            TRUSTED + DIRECTORY + FANOUT + "channel_idle_seconds = 0.1\n",
            "broker.fanout.channel_idle_seconds",
        ),
    ],
)
def test_bad_directory_settings_are_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_broker_config(write(tmp_path, text), env={})
    assert caught.value.key == key


def test_an_id_that_cannot_be_a_host_name_is_routed_only_by_override() -> None:
    directory = DirectoryConfig("{id}.nodes.example.org:8443", {"odd.id": "10.0.0.9:8443"})
    entries = directory_entries(
        directory, [("kcso", "King County"), ("a:b@evil", "Bad"), ("odd.id", "Odd")]
    )
    assert [(e.node_id, e.address) for e in entries] == [
        ("kcso", "kcso.nodes.example.org:8443"),
        ("odd.id", "10.0.0.9:8443"),
    ]


def test_pages_resume_after_a_node_that_left() -> None:
    roster = Roster(directory_entries(DirectoryConfig("{id}:1"), [(f"n{i}", "") for i in range(5)]))
    first, token = page(roster, 2, "")
    assert [e.node_id for e in first] == ["n0", "n1"]
    assert token == page_token("n1")
    # n1 left the directory between pages: the next page starts after where it was.
    shrunk = Roster(tuple(e for e in roster.entries if e.node_id != "n1"))
    second, token = page(shrunk, 2, token)
    assert [e.node_id for e in second] == ["n2", "n3"]
    last, token = page(shrunk, 2, token)
    assert [e.node_id for e in last] == ["n4"]
    assert token == ""
    with pytest.raises(InvalidRequestError) as caught:
        page(roster, 2, page_token("")[:-1] + "!")
    assert caught.value.field == "page_token"


def test_idle_channels_are_closed_and_reopened_on_use() -> None:
    now = [0.0]
    pool = ChannelPool(None, idle_seconds=60.0, clock=lambda: now[0])

    async def scenario() -> list[int]:
        seen = []
        async with pool.channel("127.0.0.1:9", "kcso") as first:
            async with pool.channel("127.0.0.1:9", "kcso") as again:
                assert again is first  # reused while open
            now[0] = 1000.0
            # In use by a call: never closed under it, however long ago it was last used.
            assert await pool.sweep() == 0
        async with pool.channel("127.0.0.1:9", "spd"):
            pass  # another agency behind the same address: a channel of its own
        seen.append(pool.open_channels)
        now[0] = 1030.0
        seen.append(await pool.sweep())  # neither idle for 60 s yet
        now[0] = 1061.0
        seen.append(await pool.sweep())
        seen.append(pool.open_channels)
        async with pool.channel("127.0.0.1:9", "kcso"):
            seen.append(pool.open_channels)
        await pool.close()
        seen.append(pool.opened)
        return seen

    assert asyncio.run(scenario()) == [2, 0, 2, 0, 1, 3]


def test_a_national_search_is_logged_by_status_counts() -> None:
    def results(n: int) -> list[broker_pb2.AgencyResult]:
        return [
            broker_pb2.AgencyResult(
                node_id=f"n{i}",
                status=broker_pb2.NODE_STATUS_ANSWERED
                if i % 4
                else broker_pb2.NODE_STATUS_TIMED_OUT,
            )
            for i in range(n)
        ]

    assert outcomes_text(results(2)) == "n0=NODE_STATUS_TIMED_OUT:0, n1=NODE_STATUS_ANSWERED:0"
    many = outcomes_text(results(LOGGED_AGENCIES * 100))
    assert many == "6400 agencies: NODE_STATUS_ANSWERED=4800, NODE_STATUS_TIMED_OUT=1600"
