#!/usr/bin/env bash
# Watch configuration errors: `hopperd --check-config` refuses exactly what
# start-up refuses, each error with its line: a watch path that is missing
# or not a folder, two watches on one folder or one inside the other (also
# through a symbolic link), state_dir or output_dir inside a watch.
# Start-up stops before it touches any database. Exit 0 pass, 1 fail.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
hopperd=$bdir/hopperd
[ -x "$hopperd" ] || { echo "fail: $hopperd not built"; exit 1; }
tmp=$(mktemp -d /tmp/hopper-watchcfg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
. "$top/tests/lib/check.sh"
mkdir -p "$tmp/in/sub" "$tmp/other"
touch "$tmp/file"
ln -s "$tmp/in" "$tmp/via-link"

# expect NAME LINE TEXT: both --check-config and a start refuse the config
# in $tmp/NAME.conf with "NAME.conf:LINE: ...TEXT...".
expect() {
	local name=$1 line=$2 text=$3 out rc
	out=$("$hopperd" -c "$tmp/$name.conf" --check-config 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && grep -qF "$name.conf:$line: " <<<"$out" && grep -qF -- "$text" <<<"$out"; then
		ok "$name: --check-config refuses it at line $line"
	else
		fail "$name: --check-config rc=$rc out=$out"
	fi
	out=$(timeout 20 "$hopperd" -c "$tmp/$name.conf" 2>&1); rc=$?
	if [ $rc -ne 0 ] && grep -qF "$name.conf:$line: " <<<"$out" && grep -qF -- "$text" <<<"$out" &&
	   ! grep -q "PostgreSQL" <<<"$out"; then
		ok "$name: start refuses it the same way"
	else
		fail "$name: start rc=$rc out=$out"
	fi
}

printf '[daemon]\nstate_dir = %s/state\n[watch a]\npath = %s/missing\n' "$tmp" "$tmp" > "$tmp/missing.conf"
expect missing 4 "missing: No such file or directory: create the folder"

printf '[daemon]\nstate_dir = %s/state\n[watch a]\npath = %s/file\n' "$tmp" "$tmp" > "$tmp/notdir.conf"
expect notdir 4 "is not a folder"

printf '[daemon]\nstate_dir = %s/state\n[watch a]\npath = %s/in\n[watch b]\npath = %s/in/sub\n' \
	"$tmp" "$tmp" "$tmp" > "$tmp/overlap.conf"
expect overlap 6 "is inside the folder of [watch a]"

printf '[daemon]\nstate_dir = %s/state\n[watch a]\npath = %s/in\n[watch b]\npath = %s/via-link\n' \
	"$tmp" "$tmp" "$tmp" > "$tmp/samelink.conf"
expect samelink 6 "is the same folder as the folder of [watch a]"

printf '[daemon]\nstate_dir = %s/in/state\n[watch a]\npath = %s/in\n' "$tmp" "$tmp" > "$tmp/state.conf"
expect state 2 "its own database files"

printf '[daemon]\nstate_dir = %s/state\n[watch a]\npath = %s/in\noutput_dir = %s/in/md\n' \
	"$tmp" "$tmp" "$tmp" > "$tmp/output.conf"
expect output 5 "output_dir: $tmp/in/md is inside the watched folder"

# A folder next to the watch, and a non-recursive watch with another below
# it, are fine.
printf '[daemon]\nstate_dir = %s/state\n[watch a]\npath = %s/in\nrecursive = no\n[watch b]\npath = %s/in/sub\n[watch c]\npath = %s/other\n' \
	"$tmp" "$tmp" "$tmp" "$tmp" > "$tmp/good.conf"
out=$("$hopperd" -c "$tmp/good.conf" --check-config 2>&1 >/dev/null); rc=$?
[ $rc -eq 0 ] && ok "separate folders accepted" || fail "good config refused: $out"

[ $fails -eq 0 ] || exit 1
