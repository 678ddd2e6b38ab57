"""Compare-and-set on Redis: one Lua script per conditional write, run once on the key's node.

A version is the SHA-1 of the value, in lowercase hex: the script computes it on the server
with ``redis.sha1hex`` and the client with ``hashlib``, so the data layout stays what kv-redis
0.3 wrote (no version key beside each value) and a read needs no script. The comparison and
the write run inside one script, which Redis runs atomically: no other command, from any
client, runs in between. A script names its one key in ``KEYS``, so on a cluster it goes to
the node of that key's slot.

Scripts are sent once, never retried by redis-py after a dropped connection: a ``set_if``
that ran but whose reply was lost would, run again, find its own version changed and report
a conflict for a write it made (a counter would then be incremented twice). ``NOSCRIPT``
(the server does not have the script cached: restarted, ``SCRIPT FLUSH``, another cluster
node) means the script did not run, so it is sent again whole with ``EVAL``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis import exceptions as rx

from ._client import call_once

__all__ = ["DELETE_IF", "WRITE_IF", "Script", "version_of"]


def version_of(value: bytes) -> str:
    """The version of a stored *value*: what ``redis.sha1hex`` computes on the server."""
    return hashlib.sha1(value, usedforsecurity=False).hexdigest()


class Script:
    """A Lua script on one key, sent with EVALSHA (EVAL when the server lacks it), once."""

    def __init__(self, source: str) -> None:
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source, usedforsecurity=False).hexdigest()

    def run(self, client: Any, server_key: bytes, *args: Any) -> Any:
        """Run the script with ``KEYS[1]`` = *server_key* and ``ARGV`` = *args*."""
        try:
            return call_once(client, server_key, "EVALSHA", self.sha, 1, server_key, *args)
        except rx.NoScriptError:
            return call_once(client, server_key, "EVAL", self.source, 1, server_key, *args)


#: ARGV: the expected version ("" = the key must be absent), the value, then the expiry
#: arguments of SET ("EX", seconds or "PX", milliseconds), or none. Returns 1 if written.
WRITE_IF = Script(
    """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
    if current then return 0 end
elseif not current or redis.sha1hex(current) ~= ARGV[1] then
    return 0
end
if #ARGV > 2 then
    redis.call('SET', KEYS[1], ARGV[2], ARGV[3], ARGV[4])
else
    redis.call('SET', KEYS[1], ARGV[2])
end
return 1
"""
)

#: ARGV: the expected version. Returns 1 if the key was removed.
DELETE_IF = Script(
    """
local current = redis.call('GET', KEYS[1])
if not current or redis.sha1hex(current) ~= ARGV[1] then
    return 0
end
redis.call('UNLINK', KEYS[1])
return 1
"""
)
