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
# one watch. Vectors are stored and ranked by pgvector when the server has
# the extension, else as real[]: both paths are checked, the pgvector one
# only where the server offers it (it prints "skip: pgvector sub-case"
# otherwise; Debian 12 does not package pgvector). To run it there, build
# pgvector with PGXS into a copy of /usr/lib/postgresql/15/bin next to
# share/ and lib/ trees that hold its files (PostgreSQL finds them relative
# to its binary) and put first in PATH a pg_config whose --bindir names the
# copy. Exit 0 pass, 1 fail, 77 skip.
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
pid= spid= spid2=
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	[ -n "$spid2" ] && kill "$spid2" 2>/dev/null
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh"
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
sql() { "$pgbin/psql" -X -q -h "$tmp/state/run" -U hopper -d hopper -At -c "$1" 2>&1; }
wait_for() { # wait_for SECONDS COMMAND...
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.3
	done
}

python3 "$top/tests/integration/embed_server.py" "$tmp/port" "$tmp/server.log" "429,500,slow,garbage,short" &
spid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")

start() { # start MODEL [PORT [TIMEOUT]]
	cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
[embed]
url = http://127.0.0.1:${2:-$port}/v1/embeddings
model = $1
batch = 4
concurrency = 2
timeout = ${3:-2s}
${extra:-}
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
vec_of() { # the stand-in server's vector of a text, as a real[] literal
	python3 -c 'import hashlib,sys; h=hashlib.sha256(sys.stdin.read().encode()).digest(); print("{"+",".join("%.10g" % (h[i]/256.0-0.5) for i in range(8))+"}")' < <(printf '%s' "$1")
}
row=$(sql "SELECT c.content FROM hopper.chunks c ORDER BY c.document_id DESC, c.ordinal DESC LIMIT 1")
want=$(vec_of "$row")
got=$(sql "SELECT e.vector::real[] FROM hopper.embeddings e JOIN hopper.chunks c USING (document_id, ordinal)
           WHERE e.model = 'test-8' ORDER BY c.document_id DESC, c.ordinal DESC LIMIT 1")
check "the stored vector is the server's" "$want" "$got"
# Storage and ranking (lib/sql/011_pgvector.sql): pgvector's vector and <=>
# when the server offers the extension, real[] and hopper.cosine() when not.
# Which function ranked is counted by track_functions in the same
# transaction; the similarities must equal hopper.cosine() over real[].
storage=$(sql "SELECT hopper.embed_storage()")
coltype=$(sql "SELECT t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
               WHERE a.attrelid = 'hopper.embeddings'::regclass AND a.attname = 'vector'")
probe=$(sql "SELECT content FROM hopper.chunks ORDER BY document_id, ordinal OFFSET 3 LIMIT 1")
qv=$(vec_of "$probe")
calls=$(sql "SET track_functions = 'all';
             SELECT count(*) FROM hopper.semantic_search('zqxj', '$qv'::real[], 'test-8', 5);
             SELECT coalesce(sum(calls) FILTER (WHERE funcname = 'cosine_distance'), 0) || ' '
                 || coalesce(sum(calls) FILTER (WHERE funcname = 'cosine'), 0)
             FROM pg_stat_xact_user_functions" | tail -n 1)
diff=$(sql "SELECT max(abs(n.sim - hopper.cosine(e.vector::real[], '$qv'::real[]))) < 1e-6 AND count(*) = 10
            FROM hopper.semantic_nearest('$qv'::real[], 'test-8', 10) n
            JOIN hopper.embeddings e ON e.document_id = n.document_id AND e.ordinal = n.ordinal AND e.model = 'test-8'")
check "nearest chunks: similarities equal hopper.cosine() over real[]" t "$diff"
if [ "$(sql "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")" = 1 ]; then
	check "pgvector on the server: storage" pgvector "$storage"
	check "pgvector on the server: column type" vector "$coltype"
	grep -q "embeddings: vectors stored as pgvector's vector, ranked by its cosine distance <=>" "$tmp/hopperd.log" \
		&& ok "pgvector: the storage is logged" || fail "pgvector: no log line: $(grep 'vectors stored' "$tmp/hopperd.log")"
	case $calls in "0 "*|*" "[1-9]*) fail "pgvector: ranked by [cosine_distance cosine] calls $calls" ;;
	               *) ok "pgvector: ranked by <=> (cosine_distance, cosine calls: $calls)" ;; esac
else
	echo "skip: pgvector sub-case: the server has no pgvector extension (Debian 12 does not package it); checking real[]"
	check "no pgvector: storage" "real[] (the server has no pgvector extension)" "$(sql "SELECT hopper.embed_storage(true)")"
	check "no pgvector: column type" _float4 "$coltype"
	grep -q "embeddings: vectors stored as real\[\] (the server has no pgvector extension), cosine by hopper.cosine()" \
		"$tmp/hopperd.log" && ok "no pgvector: the storage is logged" \
		|| fail "no pgvector: no log line: $(grep 'vectors stored' "$tmp/hopperd.log")"
	case $calls in "0 "[1-9]*) ok "no pgvector: ranked by hopper.cosine() (cosine_distance, cosine calls: $calls)" ;;
	               *) fail "no pgvector: ranked by [cosine_distance cosine] calls $calls" ;; esac
fi
for what in 429 500 slow garbage short; do
	grep -q "^[0-9]* $what " "$tmp/server.log" && ok "server answered $what" || fail "server never answered $what"
done
grep -q "retrying in" "$tmp/hopperd.log" && ok "retries are logged" || fail "no retry in the log"
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

# Another model against a second server that holds every request until the
# test releases it: while requests hang, the loop still converts a new
# file and the old model's rows stay; hopperd killed -9 then resumes at its
# next start (its leases last 300 s: finishing sooner proves it took its
# own documents back), and the old rows go only when the new set is whole.
python3 "$top/tests/integration/embed_server.py" "$tmp/port2" "$tmp/server2.log" \
	"$(printf 'hold,%.0s' $(seq 1 16))" &
spid2=$!
for _ in $(seq 50); do [ -s "$tmp/port2" ] && break; sleep 0.1; done
printf 'sk-test-%s\n' "$$" > "$tmp/key"
extra="dimensions = 8
api_key_file = $tmp/key"
start test-r "$(cat "$tmp/port2")" 60s
in_flight() { [ -s "$tmp/server2.log" ] && [ "$(sql "SELECT count(*) FROM hopper.embed_state WHERE model = 'test-r' AND state = 'running'")" -gt 0 ]; }
wait_for 60 in_flight && ok "requests in flight, held by the server" || fail "no request reached the holding server"
cp "$tmp/inbox/doc1.md" "$tmp/inbox/doc9.md" && printf 'One more line for document nine.\n' >> "$tmp/inbox/doc9.md"
nine() { [ "$(sql "SELECT count(*) FROM hopper.documents")" = 9 ]; }
if wait_for 60 nine && [ ! -e "$tmp/port2.release" ]; then ok "a file is converted while embedding requests hang (the loop does not wait for HTTP)"
else fail "no ninth document while requests hang"; fi
check "old model's rows kept while the new set is incomplete" "$chunks" \
	"$(sql "SELECT count(*) FROM hopper.embeddings WHERE model = 'test-8b'")"
claimed=$(sql "SELECT count(*) FROM hopper.embed_state WHERE model = 'test-r' AND state = 'running'")
[ "$claimed" -gt 0 ] && ok "$claimed documents claimed when hopperd is killed" || fail "nothing claimed: [$claimed]"
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
touch "$tmp/port2.release"
start test-r "$(cat "$tmp/port2")" 60s
all_nine() { [ "$(sql "SELECT count(*) FROM hopper.embed_state WHERE model = 'test-r' AND state = 'done'")" = 9 ]; }
if wait_for 90 all_nine; then ok "after kill -9, the restart resumed and finished all 9 documents"
else fail "resume: $(sql "SELECT state, attempts, count(*) FROM hopper.embed_state WHERE model = 'test-r' GROUP BY 1, 2")"; fi
retaken=$(sql "SELECT count(*) FROM hopper.embed_state WHERE model = 'test-r' AND attempts > 1")
[ "$retaken" -gt 0 ] && ok "$retaken documents claimed again after the kill" || fail "no document was claimed twice"
chunks9=$(sql "SELECT count(*) FROM hopper.chunks")
gone() { [ "$(sql "SELECT count(*) FROM hopper.embeddings WHERE model = 'test-8b'")" = 0 ]; }
wait_for 30 gone && ok "old model's rows removed once the new set is complete" || fail "test-8b rows left"
check "one vector per chunk of the new model" "$chunks9|$chunks9" \
	"$(sql "SELECT count(*), count(DISTINCT (document_id, ordinal)) FROM hopper.embeddings WHERE model = 'test-r'")"
stop
kill "$spid2" 2>/dev/null
check "every request asks for 8 dimensions with the key as a Bearer token" "8 Bearer sk-test-$$" \
	"$(cut -d' ' -f5- "$tmp/server2.log" | sort -u)"
[ $fails -eq 0 ] && echo "all checks passed" || exit 1
