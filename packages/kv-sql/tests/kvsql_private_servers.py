"""Private database servers for fault tests: started from the installed binaries, owned by
the test session, and so free to freeze (SIGSTOP), kill or fill up.

The shared servers (127.0.0.1:3306 and :5432) are never touched: other tests use them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymysql

from kv_dev.services import service_missing

__all__ = ["PrivateMariaDB", "PrivatePostgres", "SilentListener", "free_port"]


def free_port() -> int:
    """A loopback TCP port nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str, *patterns: str) -> str:
    found = shutil.which(name)
    for pattern in patterns:
        if found:
            break
        found = next(iter(sorted(glob.glob(pattern), reverse=True)), None)
    if not found:
        service_missing(f"the {name} binary", "PATH", f"{name} is not installed")
    return found


def _wait(ready: object, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(Exception):
            if ready():  # type: ignore[operator]
                return
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start:\n{text}")
        time.sleep(0.05)


class PrivateMariaDB:
    """A mariadbd of its own on a free loopback port, with a ``test`` database."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.datadir = base / "data"
        self.port = free_port()
        server = _binary("mariadbd", "/usr/sbin/mariadbd", "/usr/sbin/mysqld")
        install = _binary("mariadb-install-db", "/usr/bin/mariadb-install-db")
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        log = base / "server.log"
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--innodb-log-file-size=4M",
                *as_root,
            ],
            check=True,
            capture_output=True,
        )
        self.process = subprocess.Popen(
            [
                server,
                "--no-defaults",
                *as_root,
                f"--datadir={self.datadir}",
                f"--socket={base / 'mysqld.sock'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--innodb-log-file-size=4M",
                "--innodb-buffer-pool-size=16M",
                "--skip-log-bin",
                "--skip-name-resolve",
                f"--log-error={log}",
                f"--pid-file={base / 'mysqld.pid'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self._create_test_database, self.process, "a private mariadbd", log)

    def _create_test_database(self) -> bool:
        with self.admin() as connection, connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE IF NOT EXISTS test")
        return True

    def url(self, database: str = "test") -> str:
        """The SQLAlchemy URL of *database* on this server."""
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    def admin(self) -> pymysql.Connection:  # type: ignore[type-arg]
        """A plain connection of the test's own, autocommit."""
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", autocommit=True, connect_timeout=5
        )

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Stop the server process (SIGSTOP) for the block: it accepts, and never answers."""
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Kill the server and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)
        self.process.kill()
        self.process.wait(timeout=30)


class PrivatePostgres:
    """A postgres of its own on a free loopback port, with a ``test`` database.

    PostgreSQL refuses to run as root: under root it runs as the ``postgres`` user, in a
    directory of its own under the system temp dir (pytest's are private to root).
    """

    def __init__(self) -> None:
        self.port = free_port()
        initdb = _binary("initdb", "/usr/lib/postgresql/*/bin/initdb")
        server = _binary("postgres", "/usr/lib/postgresql/*/bin/postgres")
        self.base = Path(tempfile.mkdtemp(prefix="kvsql-postgres-"))
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                service_missing("a private PostgreSQL", "PATH", "no postgres user to run it as")
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)
        self.datadir = self.base / "data"
        log = self.base / "server.log"
        subprocess.run(
            [
                initdb,
                "-D",
                str(self.datadir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            **self._as_user(),
        )
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [
                    server,
                    "-D",
                    str(self.datadir),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.base),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "shared_buffers=16MB",
                    "-c",
                    "max_connections=100",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: frozen or killed as a whole
                **self._as_user(),
            )
        _wait(self._create_test_database, self.process, "a private postgres", log)

    def _as_user(self) -> dict[str, int]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid}

    def _create_test_database(self) -> bool:
        with self.admin("postgres") as connection:
            found = connection.execute("SELECT 1 FROM pg_database WHERE datname = 'test'")
            if found.fetchone() is None:
                connection.execute("CREATE DATABASE test")
        return True

    def url(self, database: str = "test") -> str:
        """The SQLAlchemy URL of *database* on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "test") -> psycopg.Connection:  # type: ignore[type-arg]
        """A plain connection of the test's own, autocommit."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def chown(self, path: Path) -> None:
        """Give *path* to the user the server runs as."""
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    @contextlib.contextmanager
    def frozen(self, pid: int | None = None) -> Iterator[None]:
        """Stop the whole server (or only the backend *pid*) for the block."""
        stop = (
            (lambda sig: os.kill(pid, sig))
            if pid
            else (lambda sig: os.killpg(self.process.pid, sig))
        )
        stop(signal.SIGSTOP)
        try:
            yield
        finally:
            stop(signal.SIGCONT)

    def stop(self) -> None:
        """Shut the server down at once, reap it, and remove its directory."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGQUIT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        shutil.rmtree(self.base, ignore_errors=True)


class SilentListener:
    """A loopback port that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(client)

    def close(self) -> None:
        """Stop listening and drop every connection held."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)
        for client in self._held:
            client.close()
