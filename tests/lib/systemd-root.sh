#!/usr/bin/env bash
# Print the path of a Debian 12 root file system tarball that can boot
# systemd in systemd-nspawn and run this build of hopper; build it with
# debootstrap when none is cached (about a minute, needs the network).
#   tests/integration/systemd-root.sh BINARY...
# The tarball holds systemd, dbus, procps, PostgreSQL and every package that
# ships a shared library one of the BINARYs links to (found with ldd and
# dpkg -S), so a build that links a new library gets a new root. It is cached
# as $HOPPER_NSPAWN_CACHE/rootfs-<hash of the package list>.tar (default
# /var/cache/hopper-nspawn), outside the work tree. Exit 77 when it cannot be
# built here (no debootstrap, not root), with the reason on stderr.
set -u
cache=${HOPPER_NSPAWN_CACHE:-/var/cache/hopper-nspawn}
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (debootstrap)" >&2; exit 77; }
command -v debootstrap >/dev/null || { echo "debootstrap not installed (apt-get install debootstrap)" >&2; exit 77; }

# The package that ships a library path; Debian 12 lists some under /lib and
# some under /usr/lib (merged /usr), so try both spellings.
pkg_of() {
	local l=$1 r p
	r=$(readlink -f "$l")
	for p in "$l" "$r" "${l#/usr}" "/usr$l" "${r#/usr}" "/usr$r"; do
		dpkg -S "$p" 2>/dev/null | sed -n '1s/:.*//p' | grep . && return 0
	done
	echo "cannot tell which package ships $l" >&2
	return 1
}

pkgs="systemd dbus systemd-sysv procps postgresql util-linux"
for bin in "$@"; do
	for lib in $(ldd "$bin" | awk '/=> \// { print $3 }'); do
		p=$(pkg_of "$lib") || exit 1
		pkgs="$pkgs $p"
	done
done
pkgs=$(tr ' ' '\n' <<<"$pkgs" | grep . | sort -u | tr '\n' ' ')
hash=$(printf '%s' "$pkgs" | sha256sum | cut -c1-12)
tar=$cache/rootfs-$hash.tar
if [ -f "$tar" ]; then echo "$tar"; exit 0; fi

mirror=$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$cache" || exit 1
work=$(mktemp -d "$cache/build.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
echo "building a Debian 12 root for systemd-nspawn in $work (packages: $pkgs)" >&2
if ! debootstrap --variant=minbase --include="$(tr ' ' ',' <<<"${pkgs% }")" bookworm "$work/root" "$mirror" \
	>"$work/debootstrap.log" 2>&1; then
	tail -n 20 "$work/debootstrap.log" >&2
	echo "debootstrap failed" >&2
	exit 1
fi
# The PostgreSQL package creates a cluster and a service; hopper runs its own.
chroot "$work/root" pg_dropcluster 15 main >/dev/null 2>&1
chroot "$work/root" systemctl disable postgresql >/dev/null 2>&1
rm -rf "$work/root/var/cache/apt/archives/"*.deb
tar -C "$work/root" --numeric-owner -cpf "$work/rootfs.tar" . || exit 1
mv "$work/rootfs.tar" "$tar" || exit 1
echo "$tar"
