"""kv-dev: the kv repository's own test support (never released); see ``kv_dev.services``."""
