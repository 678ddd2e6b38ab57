"""Run schemathesis over the OpenAPI document of a live kv server, bounded.

Usage: ``python tools/fuzz_openapi.py [--max-examples N] [--token] [--prefix /kv] [-- ST ARGS]``.

Starts a waitress server (``kv_flask.ServerThread``) over a fresh ``MemoryDict`` on a free
loopback port, then runs ``st run http://127.0.0.1:PORT/openapi.json`` with every check
but the ones listed in ``EXCLUDED`` below, and exits with schemathesis's code (0: no 5xx,
no answer outside the document). The test run calls it with a small ``--max-examples``
(``packages/kv-flask/tests/test_flask_schemathesis.py``); run it by hand with a larger
one for a longer search.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kv_core import MemoryDict
from kv_flask import ServerThread

#: Checks that do not apply to this API, and why.
EXCLUDED = {
    # A schema-valid If-Match / If-None-Match that does not match the stored value is a
    # 412 by design: that is what the headers are for.
    "positive_data_acceptance": "conditional headers that do not match get 412",
    # No operation's output is another's input (keys are chosen by the client).
    "use_after_free": "no resources are created by the server",
    "ensure_resource_availability": "no resources are created by the server",
}
TOKEN = "fuzz-token-0123456789"


def run(max_examples: int, *, token: bool, prefix: str, extra: list[str]) -> int:
    """Serve, run schemathesis against the server, and return its exit code."""
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    if st is None:
        print("schemathesis is not installed: pip install 'kv-flask[test]'", file=sys.stderr)
        return 2
    options = {"token": TOKEN} if token else {}
    with ServerThread(MemoryDict(), threads=4, url_prefix=prefix, **options) as server:
        command = [
            st,
            "run",
            f"{server.url}/openapi.json",
            "--url",
            server.url,
            "--checks",
            "all",
            "--exclude-checks",
            ",".join(sorted(EXCLUDED)),
            "--max-examples",
            str(max_examples),
            "--workers",
            "1",
            "--seed",
            "12",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            "--no-color",
            *(["--header", f"Authorization: Bearer {TOKEN}"] if token else []),
            *extra,
        ]
        with tempfile.TemporaryDirectory() as scratch:
            # schemathesis writes its reports and caches where it runs: not in the checkout.
            environ = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
            return subprocess.run(command, cwd=scratch, env=environ, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="cases per operation")
    parser.add_argument("--token", action="store_true", help="serve with a bearer token")
    parser.add_argument("--prefix", default="", help="mount the API under this prefix")
    parser.add_argument("extra", nargs="*", help="more arguments for `st run` (after --)")
    args = parser.parse_args()
    return run(args.max_examples, token=args.token, prefix=args.prefix, extra=args.extra)


if __name__ == "__main__":
    sys.exit(main())
