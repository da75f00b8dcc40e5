#!/usr/bin/env bash
# stop-chorusd.sh DIR: stops the chorusd daemons start-chorusd.sh started (DIR/env.sh's PIDs only):
# SIGCONT (a scenario may have stopped one), SIGTERM, and SIGKILL after 5 s; returns once they are
# gone, so the next scenario can bind the same ports.
pids=$(sed -n 's/^D[0-9]*_PID=\([0-9][0-9]*\)$/\1/p' "$1/env.sh" 2>/dev/null)
for p in $pids; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
for _ in $(seq 1 50); do
    alive=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && exit 0
    sleep 0.1
done
for p in $pids; do kill -KILL "$p" 2>/dev/null; done
exit 0
