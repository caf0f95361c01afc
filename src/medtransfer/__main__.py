"""``python -m medtransfer``: the same command line as ``medtransfer``."""

from medtransfer.cli import app

app(prog_name="medtransfer")
