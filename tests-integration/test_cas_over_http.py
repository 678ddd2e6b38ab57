"""Compare-and-set over HTTP across server processes: two `kv serve` on one database.

Each server is a real `kv serve` process on its own loopback port, both over one SQLite
file or one PostgreSQL table; the clients are processes too, half of them talking to each
server. The server hands If-Match / If-None-Match to the store's set_if, so the condition
holds across the two servers (a per-process lock in each server could not: the issue's test
lost 7 increments of 200).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from kv_dev.services import POSTGRES, unique_name
from kv_flask import FlaskKvDict

CLIENTS = 4  # client processes, half on each server
INCREMENTS = 50  # each: CLIENTS x INCREMENTS = 200, the count
ROUNDS = 10  # create-if-absent rounds

_SERVING = re.compile(r"serving .* on (http://\S+)")

# One client process: INCREMENTS get_with_version / set_if increments of "counter", then,
# each round, one try at creating a fresh key; prints what it did as JSON.
_CLIENT = """
import json, sys
from kv_core import ConflictError
from kv_flask import FlaskKvDict

url, increments, rounds, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conflicts = 0
created = []
with FlaskKvDict(url, timeout=(3.05, 60)) as kv:
    sys.stdout.write("ready\\n")
    sys.stdout.flush()
    sys.stdin.readline()  # go
    for _ in range(increments):
        while True:
            value, version = kv.get_with_version("counter")
            try:
                kv.set_if("counter", b"%d" % (int(value) + 1), version=version)
            except ConflictError:
                conflicts += 1
                continue
            break
    for round_ in range(rounds):
        try:
            kv.set_if(f"fresh-{round_}", name.encode(), version=None)
        except ConflictError:
            continue
        created.append(round_)
print(json.dumps({"conflicts": conflicts, "created": created}))
"""


def _serve(url: str, stack: contextlib.ExitStack) -> str:
    """Start `kv serve URL` on a free port; return its base URL once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kv_cli", "serve", url, "--port", "0", "--no-access-log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        assert process.stderr is not None
        process.stderr.close()

    stack.callback(stop)
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if not ready:
            assert process.poll() is None, "".join(seen)
            continue
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        found = _SERVING.search(line)
        if found:
            return found.group(1)
    pytest.fail(f"kv serve {url} did not start: {''.join(seen)}")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One SQLite file, or one new table on the PostgreSQL server (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}?table=kv"
        return
    server = POSTGRES.require()
    table = unique_name("kvcas")
    yield f"{server}?table={table}"
    engine = create_engine(server, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
    finally:
        engine.dispose()


def test_two_servers_on_one_database_lose_no_increment(database_url: str) -> None:
    """Clients of two `kv serve` processes incrementing one counter: exactly P x M, and
    each fresh key created by exactly one of them."""
    with contextlib.ExitStack() as stack:
        servers = [_serve(database_url, stack), _serve(database_url, stack)]
        with FlaskKvDict(servers[0]) as kv:
            assert kv.capabilities.compare_and_set is True
            kv.set_if("counter", b"0", version=None)
        env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"}
        clients = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _CLIENT,
                    servers[index % 2],
                    str(INCREMENTS),
                    str(ROUNDS),
                    f"client-{index}",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for index in range(CLIENTS)
        ]
        for client in clients:
            stack.callback(client.kill)
        for client in clients:
            assert client.stdout is not None
            assert client.stdout.readline() == "ready\n"
        for client in clients:  # released together, so their requests overlap
            assert client.stdin is not None
            client.stdin.write("go\n")
            client.stdin.flush()
        reports = []
        for client in clients:
            out, _ = client.communicate(timeout=300)
            assert client.returncode == 0
            reports.append(json.loads(out))
        for url in servers:
            with FlaskKvDict(url) as kv:
                assert kv["counter"] == b"%d" % (CLIENTS * INCREMENTS)
                for round_ in range(ROUNDS):
                    winners = [i for i, r in enumerate(reports) if round_ in r["created"]]
                    assert len(winners) == 1, f"round {round_}: winners {winners}"
                    assert kv[f"fresh-{round_}"] == b"client-%d" % winners[0]
        # The clients did overlap: some set_if lost to another client and was retried.
        assert sum(report["conflicts"] for report in reports) > 0
