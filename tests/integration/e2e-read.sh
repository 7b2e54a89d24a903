#!/usr/bin/env bash
# The reader's read() fallback passes the same end-to-end test as io_uring:
# e2e.sh with HOPPER_NO_URING=1, which makes hopperd read files with
# open/fstat/read/close (as on a kernel or container without io_uring).
export HOPPER_NO_URING=1
exec bash "$(dirname "$0")/e2e.sh"
