#!/usr/bin/env bash
# The golden documents through the real daemon: every input in
# tests/data/golden/ with a .md twin is dropped into a watched folder, and
# the Markdown hopperd stores must be byte-identical to the twin (which is
# what `hopper convert` gives, golden.sh checks that). Also: a cap that
# cuts something (a CSV wider than 1,000 columns) reaches documents.meta
# as a warning, next to the note in the Markdown. Exit 0 pass, 1 fail,
# 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "skip: no PostgreSQL server binaries (apt-get install postgresql)"; exit 77; }
[ -x "$bdir/hopperd" ] || { echo "fail: $bdir/hopperd not built"; exit 1; }
golden=$top/tests/data/golden
tmp=$(mktemp -d /tmp/hopper-golden.XXXXXX)
chmod 755 "$tmp"
pid=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh"
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }

mkdir -p "$tmp/inbox"
n=0
for f in "$golden"/*; do
	case $f in *.md) continue ;; esac
	base=$(basename "$f")
	[ -f "$golden/${base%.*}.md" ] || continue
	cp "$f" "$tmp/inbox/$base"
	n=$((n + 1))
done
[ $n -gt 0 ] || { echo "fail: no golden pairs in $golden"; exit 1; }
python3 -c '
import sys
for r in range(2):
    print(",".join("r%dc%d" % (r, c) for c in range(1500)))' > "$tmp/inbox/wide.csv"
total=$((n + 1))

printf '[daemon]\nstate_dir = state\n[watch inbox]\npath = inbox\n' > "$tmp/hopper.conf"
"$bdir/hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!
finished() { [ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done', 'failed')")" = $total ]; }
for _ in $(seq 600); do finished && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
finished || { fail "jobs did not finish: $(sql 'SELECT path, state, error FROM hopper.jobs')"; tail -20 "$tmp/hopperd.log"; }

for f in "$tmp"/inbox/*; do
	base=$(basename "$f")
	[ "$base" = wide.csv ] && continue
	want=$golden/${base%.*}.md
	# psql -At prints the value and a newline; the stored text ends in its own
	sql "SELECT markdown FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id
	     WHERE j.path = '$f'" > "$tmp/got"
	if cmp -s "$tmp/got" <(cat "$want"; echo); then
		ok "$base: stored Markdown is the golden twin"
	else
		fail "$base: stored Markdown differs: $(sql "SELECT state, error FROM hopper.jobs WHERE path = '$f'")"
		diff -u <(cat "$want"; echo) "$tmp/got" | head -n 20
	fi
done

row=$(sql "SELECT d.meta->'warnings'->>0, d.markdown LIKE '%> Note: table cut to the first 1000 of 1500 columns%'
           FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id WHERE j.path LIKE '%/wide.csv'")
[ "$row" = "table cut to the first 1000 of 1500 columns|t" ] && ok "the cut is a warning in documents.meta and a note" \
	|| fail "wide.csv: [$row] $(sql "SELECT state, error FROM hopper.jobs WHERE path LIKE '%/wide.csv'")"

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] && ok "hopperd exit 0" || fail "hopperd exit $rc"
[ $fails -eq 0 ] && echo "all checks passed" || exit 1
