"""kv check gives only the verdicts it has earned: usage, unavailable, or does not conform."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from .conftest import Run

BROKEN = """
from kv_core import MemoryDict

class Lenient(MemoryDict):
    # Deleting a missing key passes silently: the contract says KeyError.
    def _delete(self, key):
        self._data.pop(key, None)

class Flaky(MemoryDict):
    # Every read fails as if the server had gone away.
    def _read(self, key):
        from kv_core import StoreUnavailable
        raise StoreUnavailable("the server went away")
"""


# Hypothesis shrinking a failing state machine takes half a minute: not what is tested here.
FAST = ("-k", "not test_random_operations_match_dict")


@pytest.fixture
def backends(tmp_path: Path) -> dict[str, str]:
    """A module of broken stores, importable by kv check from its folder."""
    (tmp_path / "broken_backend.py").write_text(BROKEN)
    return {"PYTHONPATH": str(tmp_path)}


def _one_line(stderr: bytes) -> str:
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def test_misspelt_scheme_is_a_usage_error(run_kv: Run) -> None:
    """A scheme nobody registers: exit 2 with a suggestion, not 'does NOT conform'."""
    result = run_kv("check", "memroy://", "--quick")
    assert result.returncode == 2
    line = _one_line(result.stderr)
    assert "did you mean memory://?" in line
    assert "conform" not in line
    assert result.stdout == b""  # the suite never ran


def test_store_holding_data_is_a_usage_error(run_kv: Run, file_url: str, tmp_path: Path) -> None:
    """A store that is not empty: exit 2, one line naming how many keys it holds."""
    assert run_kv("--url", file_url, "set", "a", "1").returncode == 0
    assert run_kv("--url", file_url, "set", "b", "2").returncode == 0
    result = run_kv("check", file_url)
    assert result.returncode == 2
    assert "holds 2 keys" in _one_line(result.stderr)


def test_server_down_is_unavailable(run_kv: Run) -> None:
    """Nothing listening at the URL: exit 4, one line, no verdict."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_kv("check", f"redis://127.0.0.1:{port}/0?socket_connect_timeout=1")
    assert result.returncode == 4
    line = _one_line(result.stderr)
    assert "unavailable" in line
    assert "conform" not in line


@pytest.mark.parametrize(
    ("factory", "reason"),
    [("broken_backend", "MODULE:CALLABLE"), ("broken_backend:Nope", "no callable"),
     ("no_such_module:make", "cannot import")],
)  # fmt: skip
def test_bad_factory_is_a_usage_error(
    run_kv: Run, backends: dict[str, str], factory: str, reason: str
) -> None:
    """A factory that cannot be used: exit 2 with the reason."""
    result = run_kv("check", "--factory", factory, env=backends)
    assert result.returncode == 2
    assert reason in _one_line(result.stderr)


def test_failures_are_summed_up_by_contract_part(run_kv: Run, backends: dict[str, str]) -> None:
    """A store breaking the contract: exit 1, the parts and tests that failed, no traceback."""
    result = run_kv("check", "--factory", "broken_backend:Lenient", "--quick", *FAST, env=backends)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "broken_backend:Lenient does NOT conform to the kv store contract" in err
    assert "tests failed" in err
    assert "MappingTests:" in err
    assert "test_delete_missing_raises_keyerror" in err
    assert "DID NOT RAISE" in err
    assert "run it again with -v" in err
    out = result.stdout.decode()
    assert "Traceback" not in out + err
    assert "def test_" not in out  # pytest printed no source lines


def test_verbose_shows_pytest_report(run_kv: Run, backends: dict[str, str]) -> None:
    """With -v, pytest's own report (tracebacks) is there too."""
    result = run_kv(
        "check", "--factory", "broken_backend:Lenient", "--quick", "-x", "-v", env=backends
    )
    assert result.returncode == 1
    assert b"def test_" in result.stdout
    assert b"does NOT conform" in result.stderr
    assert b"run it again with -v" not in result.stderr


def test_store_going_away_mid_check_is_unavailable(run_kv: Run, backends: dict[str, str]) -> None:
    """When every failure is StoreUnavailable, the verdict is 'unavailable' (exit 4)."""
    result = run_kv(
        "check", "--factory", "broken_backend:Flaky", "--quick", "-k", "get", env=backends
    )
    assert result.returncode == 4, result.stderr
    assert b"became unavailable" in result.stderr
    assert b"does NOT conform" not in result.stderr
