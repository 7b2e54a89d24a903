#!/usr/bin/env bash
# End-to-end ingest: N small mixed files (Markdown, text, HTML of 1-3 KB)
# moved into a watched folder of a running hopperd on its embedded
# PostgreSQL; files/s from the first queued to the last finished job of the
# drop (the database's own timestamps). Then BIG more files (other
# contents) into the same daemon, whose table now holds the first N:
# files/s again, and the ratio big/small (the cost per file must not grow
# with the table). CPU per file of hopperd (itself + reaped workers) and of
# the PostgreSQL cluster, per drop. Then, on the same cluster in the same
# run, the same per-file SQL (enqueue, claim, document + 2 chunks with
# tsvector, done) as a minimal batched loop in psql, 100 files a statement:
# the database's limit here. Prints both and the ratio; and, where pandoc
# is installed, the shell pipeline a user would write (pandoc + psql per
# file) on a subset.
#   tests/bench/ingest.sh [N [BIG]]        (default 10000, no second drop)
# INGEST_KEEP_LOG=FILE keeps the cluster's postgres.log (with, say,
# PGOPTIONS="-c log_min_duration_statement=0": every statement's time).
set -u
N=${1:-10000}
BIG=${2:-0}
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "ingest: skipped, no PostgreSQL server programs"; exit 0; }
tmp=$(mktemp -d /tmp/hopper-ingest.XXXXXX)
chmod 755 "$tmp"
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "${INGEST_KEEP_LOG:-}" ] && cp "$tmp/state/postgres.log" "$INGEST_KEEP_LOG"
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1"; }
sqlf() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -v ON_ERROR_STOP=1; }

# gen DIR COUNT TAG: COUNT files; TAG makes the contents differ between drops.
gen() {
	python3 - "$1" "$2" "$3" <<'PY'
import os, sys, random
d, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(14 + len(tag))
words = "hopper queue claim lease batch worker folder chunk document markdown index share".split()
def para(k): return " ".join(random.choice(words) for _ in range(k))
for i in range(n):
    sub = os.path.join(d, "d%03d" % (i // 500))
    os.makedirs(sub, exist_ok=True)
    body = "\n\n".join("%s %s%d. %s" % (para(3).capitalize(), tag, i, para(random.randint(40, 80))) for _ in range(4))
    kind = i % 3
    if kind == 0:
        text = "# Note %s%d\n\n## Part\n\n%s\n" % (tag, i, body)
        name = "n%06d.md" % i
    elif kind == 1:
        text = "Memo %s%d\n\n%s\n" % (tag, i, body)
        name = "m%06d.txt" % i
    else:
        text = "<html><head><title>Page %s%d</title></head><body><h1>Page %d</h1><p>%s</p></body></html>\n" % (tag, i, i, body.replace("\n\n", "</p><p>"))
        name = "p%06d.html" % i
    with open(os.path.join(sub, name), "w") as f:
        f.write(text)
PY
}

# CPU ticks of the cluster: the postmaster, its live children, and the
# children it reaped (backends that ended).
pgcpu() {
	local pm t c
	pm=$(head -n 1 "$tmp/state/pg/postmaster.pid" 2>/dev/null) || { echo 0; return; }
	t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat" 2>/dev/null || echo 0)
	for c in $(pgrep -P "$pm"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
# hopperd: itself, the workers it reaped, and its live workers (not the
# embedded postmaster, counted above).
hpcpu() {
	local pm t c
	pm=$(head -n 1 "$tmp/state/pg/postmaster.pid" 2>/dev/null)
	t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat")
	for c in $(pgrep -P "$pid"); do
		[ "$c" = "$pm" ] || t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
# pgprocs: CPU ticks of each process of the cluster, by its title
# ("postgres: hopper hopper [local] idle", "autovacuum worker", ...), one
# "ticks title" a line (live processes only).
pgprocs() {
	local pm c
	pm=$(head -n 1 "$tmp/state/pg/postmaster.pid" 2>/dev/null) || return 0
	for c in $(pgrep -P "$pm"); do
		echo "$(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0) $c $(tr '\0' ' ' < "/proc/$c/cmdline" 2>/dev/null | sed 's/ *$//')"
	done
}
# pgdiff BEFORE AFTER COUNT: ms per file of each process that used CPU.
pgdiff() {
	awk -v n="$3" -v hz="$(getconf CLK_TCK)" 'NR == FNR { b[$2] = $1; next }
		{ t = $1 - ($2 in b ? b[$2] : 0); $1 = ""; pid = $2; $2 = "";
		  if (t > 0) printf "    %6.3f ms  %s\n", t * 1000 / hz / n, $0 }' "$1" "$2"
}
perfile() { echo "scale=2; $1 * 1000 / $(getconf CLK_TCK) / $2" | bc; }

# drop NAME COUNT: move the staged folder NAME into the watch, wait until
# COUNT more jobs finished; sets rate, done, failed, span, wall, cpu_hp,
# cpu_pg (ticks).
finished=0
drop() {
	local name=$1 count=$2 t0 h0 p0
	t0=$(date +%s.%N); h0=$(hpcpu); p0=$(pgcpu); pgprocs > "$tmp/procs0"
	mv "$tmp/stage/$name" "$tmp/inbox/$name"
	finished=$((finished + count))
	for _ in $(seq 72000); do
		[ "$(sql "SELECT count(*) FROM hopper.jobs WHERE state IN ('done', 'failed')")" -ge "$finished" ] && break
		sleep 0.5
	done
	wall=$(echo "$(date +%s.%N) - $t0" | bc)
	cpu_hp=$(( $(hpcpu) - h0 )); cpu_pg=$(( $(pgcpu) - p0 ))
	pgprocs > "$tmp/procs1"
	procs=$(pgdiff "$tmp/procs0" "$tmp/procs1" "$count")
	read -r done failed span <<<"$(sql "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'failed'),
		extract(epoch FROM max(finished_at) - min(queued_at)) FROM hopper.jobs
		WHERE starts_with(path, '$tmp/inbox/$name/')" | tr '|' ' ')"
	rate=$(echo "scale=0; $done / $span" | bc)
}

mkdir -p "$tmp/inbox" "$tmp/stage"
gen "$tmp/stage/small" "$N" a
[ "$BIG" -gt 0 ] && gen "$tmp/stage/big" "$BIG" bb
cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
log_level = notice
[workers]
min = 2
[watch inbox]
path = inbox
EOF
"$bdir/hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!
for _ in $(seq 600); do grep -q "ready:" "$tmp/hopperd.log" && break; sleep 0.2; done
drop small "$N"
hp=$rate
report_small="  hopperd            $rate files/s ($done done, $failed failed; $span s in the database, $wall s wall)
  CPU per file       hopperd + workers $(perfile "$cpu_hp" "$N") ms, PostgreSQL $(perfile "$cpu_pg" "$N") ms
  PostgreSQL processes (CPU per file; those still running at the end):
$procs"
report_big=
if [ "$BIG" -gt 0 ]; then
	drop big "$BIG"
	report_big="  then $BIG more into the same daemon and table: $rate files/s ($done done, $failed failed; $span s)
  CPU per file       hopperd + workers $(perfile "$cpu_hp" "$BIG") ms, PostgreSQL $(perfile "$cpu_pg" "$BIG") ms
  PostgreSQL processes (CPU per file; those still running at the end):
$procs
  ratio $BIG/$N files   $(echo "scale=2; $rate / $hp" | bc) (1.00: no decay as the table grows)"
fi
kill -TERM "$pid"; wait "$pid"; pid=
# Restart the cluster alone for the baseline: hopperd again, with no files.
rm -rf "$tmp/inbox/small" "$tmp/inbox/big"
"$bdir/hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
pid=$!
for _ in $(seq 600); do [ "$(grep -c "ready:" "$tmp/hopperd.log")" = 2 ] && break; sleep 0.2; done
base=$(sqlf <<SQL | tail -n 1
CREATE TABLE public.bj (id bigserial PRIMARY KEY, path text UNIQUE, size bigint, state text DEFAULT 'queued', document_id bigint);
CREATE INDEX ON public.bj (id) WHERE state = 'queued';
CREATE TABLE public.bd (id bigserial PRIMARY KEY, sha256 text UNIQUE, markdown text);
CREATE TABLE public.bc (document_id bigint, ordinal int, content text,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED, PRIMARY KEY (document_id, ordinal));
CREATE INDEX ON public.bc USING gin (tsv);
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
DO \$\$ DECLARE i int; BEGIN
  FOR i IN 0..$N / 100 - 1 LOOP
    INSERT INTO public.bj (path, size) SELECT '/b/' || g, 1500 FROM generate_series(i * 100, i * 100 + 99) g;
    COMMIT;
  END LOOP;
  FOR i IN 0..$N / 100 - 1 LOOP
    WITH p AS (SELECT id FROM public.bj WHERE state = 'queued' ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED)
      UPDATE public.bj SET state = 'running' FROM p WHERE bj.id = p.id;
    COMMIT;
    WITH r AS (SELECT id FROM public.bj WHERE state = 'running' ORDER BY id LIMIT 100),
         d AS (INSERT INTO public.bd (sha256, markdown) SELECT md5(id::text), repeat('markdown body ', 100) || id FROM r RETURNING id, sha256),
         c AS (INSERT INTO public.bc SELECT d.id, o, repeat('chunk words ', 40) FROM d, generate_series(0, 1) o)
      UPDATE public.bj SET state = 'done', document_id = d.id FROM r JOIN d ON d.sha256 = md5(r.id::text) WHERE bj.id = r.id;
    COMMIT;
  END LOOP;
END \$\$;
SELECT round($N / extract(epoch FROM clock_timestamp() - t)) FROM t0;
SQL
)
# The shell pipeline a user would write, on a subset: pandoc + psql per file.
shell=
if command -v pandoc >/dev/null; then
	mkdir -p "$tmp/sub"
	python3 - "$tmp/sub" 100 <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    open(os.path.join(d, "s%03d.md" % i), "w").write("# Note %d\n\n## Part\n\n%s\n" % (i, "hopper queue claim lease batch " * 60))
PY
	sql "CREATE TABLE public.sh (path text PRIMARY KEY, markdown text)" >/dev/null
	t0=$(date +%s.%N)
	for f in "$tmp"/sub/*.md; do
		md=$(pandoc -f markdown -t gfm "$f")
		printf "INSERT INTO public.sh VALUES (:'p', :'md');\n" |
			"$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -v p="$f" -v md="$md" >/dev/null
	done
	shell=$(echo "scale=1; 100 / ($(date +%s.%N) - $t0)" | bc)
fi
kill -TERM "$pid"; wait "$pid"; pid=
echo "end to end, $N small files (md/txt/html 1-3 KB), 2 workers, embedded PostgreSQL:"
echo "$report_small"
[ -n "$report_big" ] && echo "$report_big"
echo "  batched SQL loop   $base files/s (same per-file SQL, 100 a statement: the database's limit)"
echo "  ratio              $(echo "scale=2; $hp / $base" | bc) (hopperd at $N files / batched SQL; target >= 0.30)"
if [ -n "$shell" ]; then
	echo "  shell pipeline     $shell files/s (pandoc + psql per file, 100 Markdown files)"
	echo "  ratio to it        $(echo "scale=1; $hp / $shell" | bc)"
else
	echo "  shell pipeline (pandoc + psql per file): skipped, pandoc is not installed"
fi
