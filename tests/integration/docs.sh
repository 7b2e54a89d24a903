#!/usr/bin/env bash
# The manual pages say what the programs do: they pass `mandoc -T lint`
# without a message, every configuration key (as `hopperd --check-config`
# prints them, so the list is the key table itself) is described in
# hopper.conf(5) and in etc/hopper.conf, and every command of `hopper
# --help` has its entry in hopper(1). Exit 0 pass, 1 fail, 77 skip.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) bdir=$B ;; *) bdir=$top/$B ;; esac
command -v mandoc >/dev/null || { echo "skip: mandoc is not installed (apt-get install mandoc)"; exit 77; }
fails=0
. "$top/tests/lib/check.sh"
pages=("$top"/daemon/*.[1-8] "$top"/etc/*.5)
lint=$(mandoc -T lint "${pages[@]}" 2>&1)
[ -z "$lint" ] && ok "mandoc -T lint is clean on ${#pages[@]} pages" || fail "mandoc -T lint: $lint"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[watch a]\npath = %s\n' "$tmp" > "$tmp/k.conf"
keys=$("$bdir/hopperd" -c "$tmp/k.conf" --check-config 2>/dev/null | sed -n 's/^\([a-z_]*\) =.*/\1/p' | sort -u)
[ "$(wc -w <<<"$keys")" -ge 10 ] || fail "could not list the configuration keys: [$keys]"
for k in $keys; do
	# hopper.conf.5 names each key as a tagged paragraph: ".TP" then ".B key".
	grep -qx "\.B $k" "$top/etc/hopper.conf.5" || fail "key $k is not described in etc/hopper.conf.5"
	grep -qE "^#? ?$k =" "$top/etc/hopper.conf" || fail "key $k is not shown in etc/hopper.conf"
done
ok "$(wc -w <<<"$keys") keys checked against hopper.conf(5) and etc/hopper.conf"

cmds=$("$bdir/hopper" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p')
[ -n "$cmds" ] || fail "could not list the commands of hopper --help"
for c in $cmds; do
	grep -qE "^\.(B|BI) \\\\?\"?$c\b" "$top/daemon/hopper.1" || fail "command $c is not described in hopper(1)"
done
ok "commands checked against hopper(1): $(echo $cmds)"
[ $fails -eq 0 ] && echo "all checks passed" || exit 1
