#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/wire.sh - the `wire` section of make check: xmem-wire-test against
# the appliance, with more xmemds as sources of real PULLs
# (appliance-to-appliance copies).  Runs on client1 of the test bed.
#
# usage: tests/wire.sh [ADDR [PORT]]	(default: appliance 7471)
#
# 1. xmem-wire-test --pull-source SOURCE ADDR PORT: every protocol test,
#    and real pulls from SOURCE.  SOURCE is appliance2:7471 when the test
#    bed has a second appliance (scripts/xmem-vm --appliances 2), else a
#    second xmemd that this script starts on the appliance on port 7472.
# 2. Pulls between two xmemds that share a secret (ports 7473 and 7474 on
#    the appliance): the target authenticates to the source; and the one
#    with the secret must refuse ADDR:PORT, which has none, as a source.
# 3. xmem-wire-attack ADDR PORT: a key learnt by another connection is
#    useless, DETACH and a shrink revoke keys; and the cost of
#    ATTACH+DETACH against an INFO round trip (a diagnostic line).
# The xmemds started here are stopped at the end.  Output: one TAP stream
# (each run's tests numbered after the one before), then the pull lines
# of the appliances' logs as comments.
set -u

addr=${1:-appliance}
port=${2:-7471}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=()

note() {
	echo "# $*"
}

# start_xmemd PORT ARGS...: a further xmemd on the appliance, ready once
# its listening CM id shows (as the test bed's init waits for the first).
start_xmemd() {
	local p=$1

	shift
	# shellcheck disable=SC2029 # the arguments are expanded here
	if ssh -o BatchMode=yes appliance bash -s -- "$p" "$@" <<'REMOTE'; then
port=$1
shift
/xmem/bin/xmemd -p "$port" -c 512M "$@" </dev/null >/var/log/xmemd-$port.log 2>&1 &
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
		started+=("$p")
		return 0
	fi
	note "cannot start an xmemd on the appliance on port $p"
	return 1
}

# 1. The protocol, and pulls from a second appliance.
if getent hosts appliance2 >/dev/null; then
	source=appliance2:7471
elif start_xmemd 7472; then
	source=appliance:7472
else
	source=
fi
rc1=0
if [ -n "$source" ]; then
	note "pull source: $source"
	xmem-wire-test --pull-source "$source" "$addr" "$port" >"$tmp/1.tap" || rc1=$?
else
	xmem-wire-test "$addr" "$port" >"$tmp/1.tap" || rc1=$?
fi

# 2. Pulls with authentication.
rc2=0
head -c 32 /dev/urandom | base64 >"$tmp/secret"
chmod 600 "$tmp/secret"
if ssh -o BatchMode=yes appliance \
	'umask 077; cat >/run/xmem-wire-secret' <"$tmp/secret" &&
   start_xmemd 7473 -s /run/xmem-wire-secret &&
   start_xmemd 7474 -s /run/xmem-wire-secret; then
	xmem-wire-test --secret-file "$tmp/secret" --pull-only \
		--pull-source appliance:7473 \
		--pull-refusing-source "$addr:$port" appliance 7474 \
		>"$tmp/2.tap" || rc2=$?
else
	echo "not ok 1 - start two xmemds with a shared secret" >"$tmp/2.tap"
	echo "1..1" >>"$tmp/2.tap"
	rc2=1
fi

# 3. Keys of other connections, revoked keys.
rc3=0
xmem-wire-attack "$addr" "$port" >"$tmp/3.tap" || rc3=$?

# One TAP stream: each run numbered after the ones before.
awk '
	/^1\.\.[0-9]+$/ { next }
	match($0, /^(not )?ok [0-9]+/) {
		pre = ($0 ~ /^not /) ? "not ok " : "ok "
		rest = substr($0, RLENGTH + 1)
		print pre (++total) rest
		next
	}
	{ print }
	END { print "1.." total }
' "$tmp/1.tap" "$tmp/2.tap" "$tmp/3.tap"

note "pull lines of the appliances' logs:"
ssh -o BatchMode=yes appliance \
	"grep -ah ' pull ' /var/log/xmemd.log /var/log/xmemd-*.log | tail -n 40" |
	sed 's/^/#   /'
for p in ${started[@]+"${started[@]}"}; do
	# shellcheck disable=SC2029
	ssh -o BatchMode=yes appliance "kill \$(cat /run/xmemd-$p.pid)"
done
((rc1 == 0 && rc2 == 0 && rc3 == 0))
