"""kv-redis: RedisDict, a dict-like key-value store on Redis and Redis Cluster."""

from .__about__ import __version__ as __version__
from ._errors import SlidingExpiryUnsupported as SlidingExpiryUnsupported
from ._store import SCAN_COUNT as SCAN_COUNT
from ._store import RedisDict as RedisDict
from ._url import open_redis_cluster_url as open_redis_cluster_url
from ._url import open_redis_url as open_redis_url

__all__ = [
    "RedisDict",
    "SCAN_COUNT",
    "SlidingExpiryUnsupported",
    "__version__",
    "open_redis_cluster_url",
    "open_redis_url",
]
