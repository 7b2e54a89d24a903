#!/usr/bin/env bash
# Embeddings end to end: the real hopperd on its embedded PostgreSQL sends
# the chunks of dropped files to a local stand-in for an OpenAI-compatible
# /v1/embeddings endpoint (tests/integration/embed_server.py) that answers
# the first requests with 429, 500, a response slower than the time-out,
# a body that is not JSON and one vector short. Every chunk ends with
# exactly one vector, equal to the one the server computes; a model the
# server refuses fails its documents with the server's message; a new model
# replaces the old rows once its set is complete. `hopper search --semantic`
# puts the chunk whose text is the query first; --watch limits a search to
# one watch. Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopperd=$bdir/hopperd
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "skip: no PostgreSQL server binaries (apt-get install postgresql)"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 runs the stand-in embeddings server"; exit 77; }

tmp=$(mktemp -d /tmp/hopper-embed.XXXXXX)
chmod 755 "$tmp"
pid= spid=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh"
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }
wait_for() { wait_alive "$pid" "$@"; } # stops early when hopperd ($pid) died

python3 "$top/tests/integration/embed_server.py" "$tmp/port" "$tmp/server.log" "429,500,slow,garbage,short" &
spid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")

start() { # start MODEL
	cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
[embed]
url = http://127.0.0.1:$port/v1/embeddings
model = $1
batch = 4
concurrency = 2
timeout = 2s
[watch inbox]
path = inbox
chunk_tokens = 32
EOF
	"$hopperd" -c "$tmp/hopper.conf" 2>> "$tmp/hopperd.log" &
	pid=$!
}
stop() { kill -TERM "$pid"; wait "$pid"; local rc=$?; pid=; check "hopperd exit status" 0 $rc; }

mkdir -p "$tmp/inbox"
for i in $(seq 1 8); do
	{
		printf '# Document %d\n\n' "$i"
		for s in 1 2 3; do
			printf '## Section %d.%d\n\n' "$i" "$s"
			printf 'Words of section %d in document %d, enough of them to fill a chunk of its own here.\n\n' "$s" "$i"
		done
	} > "$tmp/inbox/doc$i.md"
done
start test-8
all_embedded() { # all_embedded MODEL
	[ "$(sql "SELECT count(*) FROM hopper.documents")" = 8 ] &&
	[ "$(sql "SELECT count(*) FROM hopper.embed_state WHERE model = '$1' AND state = 'done'")" = 8 ]
}
if wait_for 120 all_embedded test-8; then ok "all 8 documents embedded despite 429, 500, time-out, garbage, short"
else fail "not embedded: $(sql "SELECT state, count(*), max(error) FROM hopper.embed_state GROUP BY 1")"; fi
chunks=$(sql "SELECT count(*) FROM hopper.chunks")
[ "$chunks" -ge 16 ] && ok "$chunks chunks" || fail "expected several chunks per document, got $chunks"
check "one vector per chunk, no more" "$chunks|$chunks|0" \
	"$(sql "SELECT count(*), count(DISTINCT (e.document_id, e.ordinal)), count(*) FILTER (WHERE c.document_id IS NULL)
	        FROM hopper.embeddings e LEFT JOIN hopper.chunks c ON c.document_id = e.document_id AND c.ordinal = e.ordinal
	        WHERE e.model = 'test-8'")"
row=$(sql "SELECT c.content FROM hopper.chunks c ORDER BY c.document_id DESC, c.ordinal DESC LIMIT 1")
want=$(python3 -c 'import hashlib,sys; h=hashlib.sha256(sys.stdin.read().encode()).digest(); print("{"+",".join("%.10g" % (h[i]/256.0-0.5) for i in range(8))+"}")' < <(printf '%s' "$row"))
got=$(sql "SELECT e.vector FROM hopper.embeddings e JOIN hopper.chunks c USING (document_id, ordinal)
           WHERE e.model = 'test-8' ORDER BY c.document_id DESC, c.ordinal DESC LIMIT 1")
check "the stored vector is the server's" "$want" "$got"
for what in 429 500 slow garbage short; do
	grep -q "^[0-9]* $what " "$tmp/server.log" && ok "server answered $what" || fail "server never answered $what"
done
grep -q "retrying in" "$tmp/hopperd.log" && ok "retries are logged" || fail "no retry in the log"
grep -q "embeddings: vectors stored as real\[\], cosine by hopper.cosine() (pgvector is " "$tmp/hopperd.log" \
	&& ok "the storage of vectors is logged" || fail "no line about pgvector in the log"
# hopper search --semantic: the words' vector from the same endpoint, the
# cosine over hopper.embeddings fused with the full-text rank.
h() { "$bdir/hopper" -c "$tmp/hopper.conf" "$@"; }
target=$(sql "SELECT content FROM hopper.chunks ORDER BY document_id, ordinal OFFSET 5 LIMIT 1")
target_heading=$(sql "SELECT heading FROM hopper.chunks ORDER BY document_id, ordinal OFFSET 5 LIMIT 1")
out=$(h search --semantic --limit 3 "$target" 2>&1)
first=$(sed -n 2p <<<"$out")
check "semantic: the chunk with the same text comes first" "  $target_heading" "$first"
grep -q "similarity 1.000" <<<"$(sed -n 1p <<<"$out")" && ok "semantic: its similarity is 1" \
	|| fail "semantic first line: $(sed -n 1p <<<"$out")"
out=$(h search --semantic --limit 2 "zqxj vvkw" 2>&1)
[ "$(grep -c "similarity" <<<"$out")" = 2 ] && ok "semantic: meaning alone finds chunks no word matches" \
	|| fail "semantic without word matches: $out"
out=$(h search --watch nosuchwatch Words 2>&1)
grep -q "^no chunk matches" <<<"$out" && ok "search --watch: other watches' documents left out" || fail "--watch nosuchwatch: $out"
[ "$(h search --watch inbox --limit 3 Words 2>&1 | grep -c '(rank')" = 3 ] && ok "search --watch inbox finds them" \
	|| fail "--watch inbox: $(h search --watch inbox Words 2>&1 | head -5)"
max_inputs=$(awk '{ if ($4 > m) m = $4 } END { print m }' "$tmp/server.log")
check "batches of at most 4 inputs" 4 "$max_inputs"
stop

# A model the endpoint refuses (400) fails its documents with the reason.
start bad-model
failed_all() { [ "$(sql "SELECT count(*) FROM hopper.embed_state WHERE model = 'bad-model' AND state = 'failed'")" = 8 ]; }
if wait_for 60 failed_all; then ok "400 fails the documents"; else fail "bad-model: $(sql "SELECT state, count(*) FROM hopper.embed_state WHERE model = 'bad-model' GROUP BY 1")"; fi
err=$(sql "SELECT DISTINCT error FROM hopper.embed_state WHERE model = 'bad-model'")
grep -q "HTTP 400.*model not found" <<<"$err" && ok "reason names the server's answer: $err" || fail "error: [$err]"
stop

# A new model: its rows replace the old ones once its set is complete.
start test-8b
replaced() { all_embedded test-8b && [ "$(sql "SELECT count(*) FROM hopper.embeddings WHERE model = 'test-8'")" = 0 ]; }
if wait_for 120 replaced; then ok "new model complete, old rows removed"
else fail "model switch: $(sql "SELECT model, count(*) FROM hopper.embeddings GROUP BY 1")"; fi
check "new model has one vector per chunk" "$chunks" "$(sql "SELECT count(*) FROM hopper.embeddings WHERE model = 'test-8b'")"
stop
[ $fails -eq 0 ] && echo "all checks passed" || exit 1
