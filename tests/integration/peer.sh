#!/usr/bin/env bash
# The peer conformance documents (../shared/peer-tests, markitdown's test
# files) for the formats hopper converts today. Strict for the documents
# that pass in full; lenient (site-specific conventions skipped) for the
# Wikipedia and Bing pages. PDF and office formats come with later work:
# `make peer` runs all 40 and shows where hopper stands.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
check=$top/../shared/peer-tests/check.sh
[ -f "$check" ] || { echo "skip: $check not found (the shared folder lives beside the clone)"; exit 77; }
command -v python3 >/dev/null || { echo "skip: check.sh needs python3"; exit 77; }
rc=0
PEER_ONLY=test_blog.html,test_mskanji.csv,test.json bash "$check" "$bdir/hopper" convert || rc=1
PEER_LENIENT=1 PEER_ONLY=test_wikipedia.html,test_serp.html bash "$check" "$bdir/hopper" convert || rc=1
# PDF: all twelve, strict
pdfs=$(cd "$top/../shared/peer-tests/markitdown/files" && ls *.pdf | paste -sd, -)
PEER_ONLY=$pdfs bash "$check" "$bdir/hopper" convert || rc=1
exit $rc
