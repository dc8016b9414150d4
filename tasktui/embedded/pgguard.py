"""The guardian of a throwaway PostgreSQL: removes it if the process that started it is killed.

    python -m tasktui.embedded.pgguard --root DIR --data-dir DIR --bindir DIR [--user NAME]

Started by `localpg` for a server made with `guarded=True` (`tasktui demo`), see `localpg.Guardian`.
It says it is ready, then waits for end of file on its stdin, a pipe that only its owner can write
to. End of file after "dismiss": the owner stopped the server itself, there is nothing to do.
End of file without it: the owner died (kill -9, OOM killer, crash) and the kernel closed the pipe;
the guardian runs the same `Teardown` as the owner's `stop()` and exits.

It prints nothing (its output leads nowhere; it never sees a connection string either) and never
raises: whatever goes wrong, it ends with an exit status only.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Sequence

from tasktui.embedded.localpg import GUARDIAN_DISMISS, GUARDIAN_READY, Teardown

# How long an initdb or `pg_ctl start` that the dead owner left running may take to finish; they
# take seconds, this is only a bound for a guardian that would otherwise never end.
SETTLE_TIMEOUT = 120.0
POLL_SECONDS = 0.1


def remove(teardown: Teardown) -> None:
    """Run the teardown once the server can be stopped, until none of its processes is left.

    Killed while running, the owner leaves a postmaster that `pg_ctl stop` ends at once. Killed while
    starting, it leaves an initdb (that would write into a folder removed under it) or a `pg_ctl
    start` (whose postmaster could start after the folder is gone, where no `pg_ctl stop` finds it):
    wait for the first to end and the second to write postmaster.pid, then stop and remove."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    pid_file = teardown.data_dir / "postmaster.pid"
    while True:
        pids = teardown.server_pids()
        if not pids or pid_file.exists() or time.monotonic() > deadline:
            teardown.run()
            if time.monotonic() > deadline or not (teardown.server_pids() or teardown.root.exists()):
                return
        time.sleep(POLL_SECONDS)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        # Its own session already keeps the terminal's Ctrl-C and hangup away; these cover a signal
        # sent to it by hand, which must not leave the server unguarded.
        for signum in (signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        teardown = Teardown.from_args(sys.argv[1:] if argv is None else argv)
        # An owner killed before it read this closed the pipe: that is no reason to stop guarding.
        with contextlib.suppress(OSError):
            sys.stdout.buffer.write(GUARDIAN_READY)
            sys.stdout.flush()
        if sys.stdin.buffer.read() != GUARDIAN_DISMISS:
            remove(teardown)
    except BaseException:  # an exit status is all it gives (see above)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
