#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian packages, installed and removed as a user would, in the test
# bed booted with "scripts/xmem-vm --systemd /xmem/tests/package.sh" and
# the packages (make deb) given with --put (they are in every guest's
# /xmem/.vm/put/).
#
#   package.sh preboot NAME   run by each guest before systemd boots:
#                             the appliance installs xmemd_*.deb; a client
#                             installs xmem-dkms, xmem-utils, libxmem1 and
#                             libxmem-dev (DKMS builds the module against
#                             the installed headers of the running kernel)
#                             and both set up the host's key and the
#                             connection at boot as admin.rst says
#   package.sh check          on client1, after systemd booted: the module
#                             DKMS built was loaded by xmem-client.service
#                             and is connected to xmemd, which runs as the
#                             service of its package; the demo and the
#                             libraries work from the installed paths; then
#                             apt-get remove --purge on both guests leaves
#                             nothing behind (dpkg -L, lsmod, DKMS tree)
#
# Prints TAP.  The release is in /xmem/.vm/put/VERSION (--put VERSION),
# the key of client1 in /xmem/.vm/put/key (--put).

set -uo pipefail

PUT=/xmem/.vm/put
CLIENT_PKGS="xmem-dkms xmem-utils libxmem1 libxmem-dev"
APPLIANCE=${XMEM_APPLIANCE:-10.77.0.1:7471}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 \
		install -y --no-install-recommends "$@"
}

preboot() {
	local host=$1 p debs=()

	case $host in
	appliance)
		debs=("$PUT"/xmemd_*.deb)
		;;
	appliance*)
		return 0	# only the first appliance is used
		;;
	client*)
		for p in $CLIENT_PKGS; do
			debs+=("$PUT/${p}_"*.deb)
		done
		;;
	esac
	for p in "${debs[@]}" "$PUT/key"; do
		[ -f "$p" ] || { echo "package.sh: no $p"; return 1; }
	done
	# Files named *xmem* before installing (the test bed has a few of its
	# own): after the purge there must be exactly these.
	xmem_files >/root/xmem-files.before
	apt_install "${debs[@]}" || return 1
	# What the administrator does after installing, as admin.rst says
	# (systemd starts the services in the boot that follows; on a running
	# system it is "systemctl restart xmemd", "systemctl start
	# xmem-client").  The key is the one a user makes with
	# "head -c 32 /dev/urandom | base64", the same on both sides.
	case $host in
	appliance)
		echo "client1 $(cat "$PUT/key")" >>/etc/xmem/hosts &&
		chmod 600 /etc/xmem/hosts &&
		sed -i 's|^#hosts /etc/xmem/hosts|hosts /etc/xmem/hosts|' \
			/etc/xmem/xmemd.conf &&
		grep -qx 'hosts /etc/xmem/hosts' /etc/xmem/xmemd.conf
		;;
	client*)
		install -d /etc/xmem /etc/systemd/system/xmem-client.service.d &&
		install -m 600 "$PUT/key" /etc/xmem/key &&
		cat >/etc/systemd/system/xmem-client.service.d/override.conf <<-EOF
		[Service]
		ExecStartPost=/usr/sbin/xmemctl secret /etc/xmem/key
		ExecStartPost=/usr/sbin/xmemctl appliance add $APPLIANCE
		EOF
		;;
	esac
}

# xmem_files: every file named *xmem* where packages install.
xmem_files() {
	find /etc /usr /lib/modules /lib/systemd /var/lib/dkms -name '*xmem*' \
		2>/dev/null | sort
}

# same_xmem_files: the files named *xmem* are those from before the
# installation; names the ones left behind.
same_xmem_files() {
	xmem_files | comm -13 /root/xmem-files.before - |
		sed 's/^/# left behind: /' | grep . && return 1
	return 0
}

n=0
failed=0
ok() {	# ok CONDITION-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# t DESCRIPTION COMMAND...: one test, passed iff COMMAND exits 0.
t() {
	local what=$1 rc=0

	shift
	"$@" || rc=$?
	ok "$rc" "$what"
}

on_appliance() {
	ssh -o BatchMode=yes appliance "$@"
}

# files_of PKG...: the files (not directories) the packages installed.
files_of() {
	local f

	dpkg -L "$@" 2>/dev/null | while read -r f; do
		[ -d "$f" ] || echo "$f"
	done
}

# none_left LIST: every file of LIST is gone; names the ones left.
none_left() {
	local f left=0

	while read -r f; do
		[ -n "$f" ] || continue
		if [ -e "$f" ] || [ -L "$f" ]; then
			echo "# left behind: $f"
			left=1
		fi
	done <"$1"
	return "$left"
}

check_client_installed() {
	local kver modpath

	kver=$(uname -r)
	t "dkms built and installed xmem/$VERSION for $kver" \
		bash -c "dkms status xmem/$VERSION -k $kver | tee /dev/stderr | grep -q ': installed'"
	modpath=$(modinfo -n xmem 2>/dev/null)
	echo "# modinfo -n xmem: $modpath"
	t "modprobe finds the DKMS module (updates/dkms)" \
		grep -q "^/lib/modules/$kver/updates/dkms/xmem.ko" <<<"$modpath"
	t "xmem-client.service is enabled and active" \
		bash -c 'systemctl is-enabled xmem-client && systemctl is-active xmem-client'
	t "the loaded module is $VERSION (MODULE_VERSION)" \
		grep -qx "$VERSION" /sys/module/xmem/version
	t "xmem connected at boot to $APPLIANCE (the unit's drop-in)" \
		bash -c "grep -qx connected /sys/class/misc/xmem/state &&
			/usr/sbin/xmemctl appliance list | tee /dev/stderr |
			grep -q '^$APPLIANCE *connected'"
	t "xmemd authenticated client1 with its key from /etc/xmem/hosts" \
		on_appliance "journalctl -u xmemd | grep -q 'authenticated as host client1'"
	t "xmemd --status on the appliance shows the service's connection from a host" \
		on_appliance "/usr/sbin/xmemd --status | tee /dev/stderr | grep -q '^[1-9][0-9]* connections, '"
	t "/usr/sbin/xmemctl version says $VERSION for itself and the module" \
		bash -c "/usr/sbin/xmemctl version | tee /dev/stderr | grep -c '^\(xmemctl\|module\) *$VERSION\$' | grep -qx 2"
	t "xmemd.service is active on the appliance" \
		on_appliance systemctl is-active xmemd
	t "the service runs /usr/sbin/xmemd" \
		on_appliance 'readlink /proc/$(systemctl show -P MainPID xmemd)/exe | grep -qx /usr/sbin/xmemd'
}

check_demo() {
	local rc=0

	echo "# /usr/libexec/xmem/xmem-demo 16"
	env PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/libexec/xmem/xmem-demo 16 ||
		rc=$?
	ok "$rc" "the installed xmem-demo runs (exit status $rc)"
}

# The root image has no libc6-dev (and the guests no network to get it),
# so nothing is compiled: libxmem-dev's files are checked in place and
# libxmem.so.1 is called from Python (ctypes), on the connected module.
check_lib() {
	t "libxmem.pc says $VERSION" \
		grep -qx "Version: $VERSION" /usr/lib/x86_64-linux-gnu/pkgconfig/libxmem.pc
	t "libxmem-dev: xmem_alloc.h, <xmem/xmem.h>, libxmem.so, libxmem.a" \
		ls /usr/include/xmem_alloc.h /usr/include/xmem/xmem.h \
			/usr/lib/x86_64-linux-gnu/libxmem.so /usr/lib/x86_64-linux-gnu/libxmem.a
	t "xmem_malloc() of the installed libxmem.so.1 gives xmem memory" \
		python3 -c '
import ctypes, sys
lib = ctypes.CDLL("libxmem.so.1")
lib.xmem_malloc.restype = ctypes.c_void_p
lib.xmem_malloc.argtypes = [ctypes.c_size_t]
lib.xmem_owns.argtypes = [ctypes.c_void_p]
lib.xmem_free.argtypes = [ctypes.c_void_p]
p = lib.xmem_malloc(1 << 20)
if not p or not lib.xmem_owns(p):
	sys.exit(1)
ctypes.memset(p, 0x5a, 1 << 20)
ok = ctypes.string_at(p + 12345, 1) == b"\x5a"
lib.xmem_free(p)
sys.exit(0 if ok else 2)
'
}

check_removed() {
	local kver list=/root/client.files alist=/root/appliance.files

	kver=$(uname -r)
	# shellcheck disable=SC2086 # a word list
	files_of $CLIENT_PKGS >"$list"
	echo "# $(wc -l <"$list") files of $CLIENT_PKGS"
	t "apt-get remove --purge $CLIENT_PKGS" \
		env DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y $CLIENT_PKGS
	t "no package of xmem is left on the client, not even its conffiles" \
		bash -c "! dpkg-query -W -f='\${db:Status-Abbrev}\n' $CLIENT_PKGS 2>/dev/null | grep -q '^.[^n]'"
	t "none of their files is left" none_left "$list"
	t "lsmod has no xmem" bash -c '! lsmod | grep -q "^xmem "'
	t "xmem-client.service is gone" \
		bash -c '! systemctl cat xmem-client >/dev/null 2>&1'
	t "the DKMS tree has no xmem" \
		bash -c "! ls -d /var/lib/dkms/xmem /usr/src/xmem-* /lib/modules/*/updates/dkms/xmem.ko* 2>/dev/null | grep ."
	t "modprobe no longer finds xmem" bash -c '! modinfo -n xmem'
	t "no new file named *xmem* under /etc, /usr, /lib/modules, /lib/systemd, /var/lib/dkms" \
		same_xmem_files

	on_appliance "dpkg -L xmemd | while read -r f; do [ -d \"\$f\" ] || echo \"\$f\"; done" >"$alist"
	echo "# $(wc -l <"$alist") files of xmemd"
	t "apt-get remove --purge xmemd on the appliance" \
		on_appliance env DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y xmemd
	t "xmemd stopped and no unit is left" \
		on_appliance '! pgrep -x xmemd && ! systemctl cat xmemd >/dev/null 2>&1'
	t "none of its files is left" \
		on_appliance "for f in \$(cat); do [ ! -e \"\$f\" ] || { echo \"# left behind: \$f\"; exit 1; }; done; [ ! -e /etc/xmem ]" <"$alist"
	t "no new file named *xmem* under /etc, /usr, /lib/systemd on the appliance" \
		on_appliance "$(declare -f xmem_files same_xmem_files); same_xmem_files"

}

case ${1:-} in
preboot)
	[ $# -eq 2 ] || { echo "usage: package.sh preboot NAME" >&2; exit 2; }
	preboot "$2"
	exit
	;;
check) ;;
*)
	echo "usage: package.sh preboot NAME | check" >&2
	exit 2
	;;
esac

VERSION=$(cat "$PUT/VERSION") || exit 1
echo "1..26"
check_client_installed
check_demo
check_lib
check_removed
echo "# $n tests, $failed failed"
[ "$failed" = 0 ] && [ "$n" = 26 ]
