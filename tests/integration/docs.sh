#!/usr/bin/env bash
# The manual pages say what the programs do: they pass `mandoc -T lint`
# without a message, every configuration key (as `hopperd --check-config`
# prints them, so the list is the key table itself) is described in
# hopper.conf(5) (with its default and whether a reload applies it) and in
# etc/hopper.conf, and every command of `hopper
# --help` has its entry and an example in hopper(1) and is offered by the
# bash completion, with its switches. Exit 0 pass, 1 fail, 77 skip.
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

# Each key's entry in hopper.conf(5) gives its default (or says it is
# required) and whether a reload applies it, in the entry or for the whole
# section, as the key table has it ("(restart to change)" in --check-config).
"$bdir/hopperd" -c "$tmp/k.conf" --check-config > "$tmp/effective.conf" 2>/dev/null
if ! command -v python3 >/dev/null; then echo "note: python3 missing: defaults and reload not checked"
elif out=$(python3 - "$tmp/effective.conf" "$top/etc/hopper.conf.5" 2>&1 <<'PY'
import re, sys
cc, man = open(sys.argv[1]).read().splitlines(), open(sys.argv[2]).read().splitlines()
want, sec, comment = {}, None, ''    # section -> key -> needs a restart
for l in cc:
    m = re.match(r'^\[(\w+)', l)
    if m:
        sec = m.group(1)
        continue
    if l.startswith('#'):
        comment = l
        continue
    m = re.match(r'^([a-z_]+) =', l)
    if m and sec:
        want.setdefault(sec, {})[m.group(1)] = '(restart to change)' in comment
have, pre, sec, cur = {}, {}, None, None   # section -> key -> entry text; section preface
for l in man:
    m = re.match(r'^\.SH \[(\w+)', l)
    if m:
        sec, cur = m.group(1), None
        have[sec], pre[sec] = {}, ''
    elif l.startswith('.SH'):
        sec = None
    elif sec is None:
        pass
    elif l == '.TP':
        cur = '.TP'
    elif cur == '.TP':
        m = re.match(r'^\.B ([a-z_]+)$', l)
        cur = m.group(1) if m else None
        if cur:
            have[sec][cur] = ''
    elif cur:
        have[sec][cur] += ' ' + l
    else:
        pre[sec] += ' ' + l
bad = 0
for sec, keys in want.items():
    for k, restart in keys.items():
        e = have.get(sec, {}).get(k)
        if e is None:
            print('[%s] %s: no entry' % (sec, k)); bad += 1; continue
        restart_said = 'restart' in e or 'need a restart' in pre[sec]
        reload_said = (re.search(r'\breload\b', e) or 'apply on reload' in pre[sec]) and 'restart' not in e
        if restart and not restart_said:
            print('[%s] %s: needs a restart; the page does not say so' % (sec, k)); bad += 1
        if not restart and not reload_said:
            print('[%s] %s: applies on reload; the page does not say so' % (sec, k)); bad += 1
        if 'default' not in e and 'required' not in e:
            print('[%s] %s: no default given' % (sec, k)); bad += 1
print(sum(len(k) for k in want.values()))
sys.exit(1 if bad else 0)
PY
); then ok "defaults and restart/reload of $out keys as hopper.conf(5) gives them"
else fail "hopper.conf(5) against the key table: $out"; fi

cmds=$("$bdir/hopper" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p')
[ -n "$cmds" ] || fail "could not list the commands of hopper --help"
for c in $cmds; do
	grep -qE "^\.(B|BI) \\\\?\"?$c\b" "$top/daemon/hopper.1" || fail "command $c is not described in hopper(1)"
done
ok "commands checked against hopper(1): $(echo $cmds)"
examples=$(sed -n '/^\.SH EXAMPLES/,/^\.SH /p' "$top/daemon/hopper.1")
for c in $cmds; do
	grep -q "^hopper \(\\\\-c [^ ]* \)\?$c\b" <<<"$examples" || fail "command $c has no example in hopper(1) EXAMPLES"
done
ok "every command has an example in hopper(1)"
# The bash completion (with Debian's bash-completion) offers the commands of
# --help, and each command's switches.
if [ -f /usr/share/bash-completion/bash_completion ]; then
	complete_words() { # the words offered for the command line "$@" (the last word is being typed)
		bash -c '. /usr/share/bash-completion/bash_completion; . "$1"; shift
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
			_hopper; printf "%s\n" "${COMPREPLY[@]}"' _ "$top/etc/hopper.bash-completion" "$@" | sort | tr '\n' ' '
	}
	check_completion() { # check_completion EXPECTED WORDS...
		local want=$1 got; shift
		got=$(complete_words "$@")
		[ "$got" = "$want " ] || fail "completion of '$*': [$got], wanted [$want]"
	}
	check_completion "$(tr ' ' '\n' <<<"$cmds" | sort | tr '\n' ' ' | sed 's/ $//')" "$bdir/hopper" ""
	check_completion "--json --watch" "$bdir/hopper" status -
	check_completion "--csv --json -A -F -t" "$bdir/hopper" -c x.conf sql -
	check_completion "--limit --refresh --semantic --watch" "$bdir/hopper" search --
	ok "bash completion: commands and their switches"
else
	echo "note: bash-completion not installed: completion not checked"
fi
[ $fails -eq 0 ] && echo "all checks passed" || exit 1
