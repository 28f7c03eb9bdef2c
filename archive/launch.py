"""The `newsarchive` executable. Ctrl-C while the command line is still loading ends the
same way as once a command runs: one word on stderr and status 130, no traceback."""

import sys

from archive import exitcodes


def main() -> None:
    try:
        from archive.cli import main as command_line
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(exitcodes.INTERRUPTED)
    command_line()
