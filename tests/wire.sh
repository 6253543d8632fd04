#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/wire.sh - the `wire` section of make check: xmem-wire-test against
# the appliance, with a second xmemd as the source of real PULLs
# (appliance-to-appliance copies).  Runs on client1 of the test bed.
#
# usage: tests/wire.sh [ADDR [PORT]]	(default: appliance 7471)
#
# The source is appliance2:7471 when the test bed has a second appliance
# (scripts/xmem-vm --appliances 2); otherwise a second xmemd that this
# script starts on the appliance on port 7472 and stops at the end.  The
# TAP output is xmem-wire-test's, followed by the appliances' pull log
# lines as comments.
set -u

addr=${1:-appliance}
port=${2:-7471}
src_port=7472
started=0

note() {
	echo "# $*"
}

if getent hosts appliance2 >/dev/null; then
	source=appliance2:7471
else
	source=appliance:$src_port
	# Started in the background with every descriptor redirected, so
	# ssh returns; ready once its listening CM id shows (as the test
	# bed's init waits for the first xmemd).
	if ssh -o BatchMode=yes appliance bash -s -- "$src_port" <<'REMOTE'; then
port=$1
/xmem/bin/xmemd -p "$port" -c 512M </dev/null >/var/log/xmemd-$port.log 2>&1 &
pid=$!
echo "$pid" >/run/xmemd-$port.pid
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
	rdma resource show cm_id 2>/dev/null |
		grep -q "src-addr [^ ]*:$port " && exit 0
	kill -0 "$pid" 2>/dev/null || exit 1
	sleep 0.1
done
exit 1
REMOTE
		started=1
	else
		note "cannot start a second xmemd on the appliance (port $src_port)"
		source=
	fi
fi

rc=0
if [ -n "$source" ]; then
	note "pull source: $source"
	xmem-wire-test --pull-source "$source" "$addr" "$port" || rc=$?
else
	xmem-wire-test "$addr" "$port" || rc=$?
fi

note "pull lines of the target's log:"
ssh -o BatchMode=yes appliance "grep -a ' pull ' /var/log/xmemd.log | tail -n 30" |
	sed 's/^/#   /'
if ((started)); then
	ssh -o BatchMode=yes appliance \
		"kill \$(cat /run/xmemd-$src_port.pid); tail -n 5 /var/log/xmemd-$src_port.log" |
		sed 's/^/#   source: /'
fi
exit "$rc"
