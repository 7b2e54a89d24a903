#!/usr/bin/env bash
# systemd/hopperd.service as installed: `systemd-analyze verify` accepts it
# (with the real binary and the man page it names), and its exposure score
# stays at or below 2.0 ("OK") in `systemd-analyze security`; make install
# puts down every file (man pages, bash completion), a second install keeps
# a changed configuration, and make uninstall removes exactly what install put.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v systemd-analyze >/dev/null || { echo "skip: systemd-analyze not installed (apt-get install systemd)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s -C "$top" install DESTDIR="$tmp/root" PREFIX=/usr B="$B" SANITIZE="${SANITIZE:-}" >/dev/null || { echo "make install failed"; exit 1; }
unit=$tmp/root/usr/lib/systemd/system/hopperd.service
[ -f "$unit" ] || { echo "make install did not install the unit"; exit 1; }
for f in usr/bin/hopperd usr/bin/hopper usr/lib/hopper/hopper-worker etc/hopper/hopper.conf usr/lib/sysusers.d/hopper.conf \
         usr/lib/tmpfiles.d/hopper.conf usr/share/man/man8/hopperd.8 usr/share/man/man1/hopper.1 \
         usr/share/man/man5/hopper.conf.5 usr/share/bash-completion/completions/hopper; do
	[ -e "$tmp/root/$f" ] || { echo "make install did not install /$f"; exit 1; }
done
# Point ExecStart at the installed binary inside DESTDIR.
sed -i "s|/usr/bin/hopperd|$tmp/root/usr/bin/hopperd|" "$unit"
man_opt=--man=no
if command -v man >/dev/null; then man_opt=; export MANPATH=$tmp/root/usr/share/man; fi
out=$(systemd-analyze verify $man_opt "$unit" 2>&1); rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then echo "systemd-analyze verify: rc=$rc"; echo "$out"; exit 1; fi
echo "verify: clean"
sec=$(systemd-analyze security --offline=true "$unit" 2>&1)
score=$(sed -n 's/.*Overall exposure level for hopperd.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[ -n "$score" ] || { echo "no exposure score in:"; echo "$sec" | tail -5; exit 1; }
echo "note: systemd-analyze security: exposure $score (at most 2.0)"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "exposure $score is above 2.0"; exit 1; }
# make uninstall removes what install put there: a changed configuration
# and the state directory stay, nothing else.
sed -i "s|$tmp/root/usr/bin/hopperd|/usr/bin/hopperd|" "$unit"
mkdir -p "$tmp/root/var/lib/hopper/inbox"
echo "# mine" >> "$tmp/root/etc/hopper/hopper.conf"
# A second install (an upgrade) keeps the changed configuration.
make -s -C "$top" install DESTDIR="$tmp/root" PREFIX=/usr B="$B" SANITIZE="${SANITIZE:-}" >/dev/null || { echo "make install (again) failed"; exit 1; }
[ "$(tail -n 1 "$tmp/root/etc/hopper/hopper.conf")" = "# mine" ] || { echo "make install overwrote a changed /etc/hopper/hopper.conf"; exit 1; }
echo "install again: the changed configuration is kept"
make -s -C "$top" uninstall DESTDIR="$tmp/root" PREFIX=/usr B="$B" SANITIZE="${SANITIZE:-}" >/dev/null || { echo "make uninstall failed"; exit 1; }
left=$(cd "$tmp/root" && find . -type f | sort)
[ "$left" = "./etc/hopper/hopper.conf" ] || { echo "after make uninstall, left: $left (wanted only the changed etc/hopper/hopper.conf)"; exit 1; }
[ -d "$tmp/root/var/lib/hopper/inbox" ] || { echo "make uninstall removed the state directory"; exit 1; }
rm "$tmp/root/etc/hopper/hopper.conf"
make -s -C "$top" install DESTDIR="$tmp/root" PREFIX=/usr B="$B" SANITIZE="${SANITIZE:-}" >/dev/null &&
	make -s -C "$top" uninstall DESTDIR="$tmp/root" PREFIX=/usr B="$B" SANITIZE="${SANITIZE:-}" >/dev/null || { echo "install/uninstall failed"; exit 1; }
left=$(cd "$tmp/root" && find . -type f)
[ -z "$left" ] || { echo "make uninstall left the unchanged files: $left"; exit 1; }
echo "uninstall: clean, changed configuration and state directory kept"
