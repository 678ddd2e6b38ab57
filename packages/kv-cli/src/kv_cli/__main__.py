"""``python -m kv_cli``: the ``kv`` command, for when the script is not on PATH."""

from ._entry import main

raise SystemExit(main(prog_name="python -m kv_cli"))
