#!/usr/bin/env bash
# The operator's side of the CLI against a real hopperd on its embedded
# PostgreSQL: which hopperd the CLI takes without -c (the closest one the
# caller may talk to, and it says which when several are equally close),
# `hopper sql` with psql's switches (-A -t -F, --csv, --json),
# `hopper status --json`, `hopper doctor` (0 when all is well, 1 with the
# fix on a broken config, the mode of each watch), `hopperd --check-config` refusing a state_dir
# that is a file, and log lines without "<N>" prefixes on a terminal.
# Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopperd=$bdir/hopperd
hopper=$bdir/hopper
pgbin=$(pg_config --bindir 2>/dev/null)
[ -x "$pgbin/postgres" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/postgres" ] || { echo "skip: no PostgreSQL server binaries (apt-get install postgresql)"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is needed to parse JSON"; exit 77; }

tmp=$(mktemp -d /tmp/hopper-cli.XXXXXX)
chmod 755 "$tmp"
pid=
decoys=()
fails=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	for d in "${decoys[@]}"; do kill -KILL "$d" 2>/dev/null; done
	pkill -KILL -f "$tmp/state/pg" 2>/dev/null
	[ -n "${HOPPER_TEST_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/tests/lib/check.sh"
check() { # check WHAT EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}

# --check-config refuses what the start would refuse: state_dir a file.
touch "$tmp/afile"
mkdir -p "$tmp/inbox"
printf '[daemon]\nstate_dir = afile\n[watch inbox]\npath = inbox\n' > "$tmp/file-state.conf"
out=$("$hopperd" -c "$tmp/file-state.conf" --check-config 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && grep -q "file-state.conf:2: state_dir: .* is not a directory" <<<"$out" \
	&& ok "--check-config refuses a state_dir that is a file, with its line" \
	|| fail "state_dir a file: rc=$rc out=$out"

# On a terminal, log lines read as text; on a pipe they keep "<N>".
if command -v script >/dev/null; then
	tty_out=$(script -qec "$hopperd -c $tmp/file-state.conf" /dev/null 2>&1)
	if grep -q '^<[0-9]>' <<<"$tty_out"; then fail "priority prefix on a terminal: $tty_out"
	elif grep -q '^error: not starting' <<<"$tty_out"; then ok "terminal: plain 'error:' lines"
	else fail "terminal output: $tty_out"; fi
fi
pipe_out=$("$hopperd" -c "$tmp/file-state.conf" 2>&1 | cat)
grep -q '^<3>not starting' <<<"$pipe_out" && ok "pipe: <3> prefix kept for journald" \
	|| fail "pipe output: $pipe_out"

cat > "$tmp/hopper.conf" <<EOF
[daemon]
state_dir = state
[watch inbox]
path = inbox
EOF
printf '# First, "quoted"\n\nA line, with a comma.\n' > "$tmp/inbox/one.md"
printf '# Second\n\nMore text.\n' > "$tmp/inbox/two.md"
"$hopperd" -c "$tmp/hopper.conf" 2> "$tmp/hopperd.log" &
pid=$!
h() { "$hopper" -c "$tmp/hopper.conf" "$@"; }
done2() { [ "$(h sql -At "SELECT count(*) FROM hopper.jobs WHERE state = 'done'" 2>/dev/null)" = 2 ]; }
for _ in $(seq 300); do done2 && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
done2 && ok "two files done" || { fail "files not done"; cat "$tmp/hopperd.log"; exit 1; }

# Without -c the CLI takes the configuration of the closest hopperd the
# caller may talk to. Decoys (processes named hopperd with another -c):
# one of the same user in another session, one of another user (nobody) in
# this very process group. Ours (same process group) wins, the one of
# nobody is ignored, and nothing says "several". A second one in our group
# ties with ours: the CLI says which configuration it used.
mkdir -p "$tmp/decoy"
printf '[daemon]\nstate_dir = %s/decoy/state\n[watch decoy]\npath = %s/decoy\n' "$tmp" "$tmp" > "$tmp/decoy.conf"
decoy='exec -a hopperd perl -e "sleep 600" -- -c "$0"'
setsid bash -c "$decoy" "$tmp/decoy.conf" </dev/null & decoys+=($!)
setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "$decoy" "$tmp/decoy.conf" </dev/null & decoys+=($!)
named_hopperd() { for d in "${decoys[@]}"; do [ "$(cut -d '' -f 1 < /proc/$d/cmdline 2>/dev/null)" = hopperd ] || return 1; done; }
wait_for 10 named_hopperd || fail "decoys did not start: $(for d in "${decoys[@]}"; do tr '\0' ' ' < /proc/$d/cmdline; echo; done)"
st=$(env -u HOPPER_CONFIG "$hopper" status 2>"$tmp/find.err"); rc=$?
[ $rc -eq 0 ] && grep -q '^ *inbox' <<<"$st" && ! grep -q decoy <<<"$st" && ! grep -q several "$tmp/find.err" \
	&& ok "without -c: our hopperd, not another session's nor another user's" \
	|| fail "without -c (rc=$rc): $st $(cat "$tmp/find.err")"
bash -c "$decoy" "$tmp/decoy.conf" </dev/null & decoys+=($!)
wait_for 10 named_hopperd || fail "third decoy did not start"
env -u HOPPER_CONFIG "$hopper" status >/dev/null 2>"$tmp/find.err"
grep -q "^hopper: using $tmp/\(decoy\|hopper\).conf, the configuration of the running hopperd (several run; -c FILE picks another)" "$tmp/find.err" \
	&& ok "two equally close: says which one it used" || fail "two equally close: stderr [$(cat "$tmp/find.err")]"
for d in "${decoys[@]}"; do kill -KILL "$d" 2>/dev/null; wait "$d" 2>/dev/null; done
decoys=()

check "sql -At: bare value" "2" "$(h sql -At "SELECT count(*) FROM hopper.documents")"
check "sql -A: header, separator, footer" "$(printf 'a|b\n1|x\n(1 row)')" "$(h sql -A "SELECT 1 AS a, 'x' AS b")"
check "sql -t -F ';'" "1;x" "$(h sql -t -F ';' "SELECT 1 AS a, 'x' AS b")"
check "sql --csv quotes commas and quotes" "$(printf 'title\r\n"First, ""quoted"""\r')" \
	"$(h sql --csv "SELECT 'First, \"quoted\"' AS title")"
json=$(h sql --json "SELECT title, NULL AS nothing FROM hopper.documents ORDER BY title")
check "sql --json parses, NULL is null" "First, \"quoted\"|Second|None" \
	"$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["title"]+"|"+r[1]["title"]+"|"+str(r[0]["nothing"]))' <<<"$json" 2>&1)"
check "sql usage error exits 2" "2" "$(h sql -Z "SELECT 1" >/dev/null 2>&1; echo $?)"
st=$(h status --json)
check "status --json" "2|inbox|2" \
	"$(python3 -c 'import json,sys; s=json.load(sys.stdin); print("%d|%s|%d" % (s["states"]["done"], s["watches"][0]["watch"], s["watches"][0]["total"]))' <<<"$st" 2>&1)"

doc=$(h doctor 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '^ok    database: reachable' <<<"$doc" && grep -q '^ok    sandbox' <<<"$doc"; then
	ok "doctor: all well, exit 0"; else fail "doctor (rc=$rc): $doc"; fi
printf '[watch gone]\npath = %s/missing\n' "$tmp" > "$tmp/gone.conf"
doc=$("$hopper" -c "$tmp/gone.conf" doctor 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "^FAIL  .*missing.*-> " <<<"$doc"; then
	ok "doctor: a missing folder fails with the fix"; else fail "doctor on a broken config (rc=$rc): $doc"; fi

# Which mode each watch gets, and why; a polled watch needs no inotify watches.
mkdir -p "$tmp/polled/sub"
printf '[daemon]\nstate_dir = state2\n[watch p]\npath = polled\nmode = poll\npoll_interval = 3s\n[watch i]\npath = inbox\n' > "$tmp/modes.conf"
doc=$("$hopper" -c "$tmp/modes.conf" doctor 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "^ok    watch p: $tmp/polled: polled every 3 s (mode = poll)$" <<<"$doc" &&
   grep -q "^ok    watch i: $tmp/inbox: inotify (local file system; mode = auto)$" <<<"$doc" &&
   grep -q "^ok    inotify: 1 folder to watch, limit" <<<"$doc" &&
   grep -qE "^ok    inotify: uid [0-9]+ holds [0-9]+ of [0-9]+ instances" <<<"$doc"; then
	ok "doctor: mode per watch (poll, inotify), polled folders not counted against the inotify limit, instances in use"
else fail "doctor on modes (rc=$rc): $doc"; fi

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "hopperd exit status" "0" "$rc"
[ $fails -eq 0 ] && echo "all checks passed" || exit 1
