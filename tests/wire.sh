#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/wire.sh - the `wire` section of make check: xmem-wire-test against
# the appliance, with more xmemds as sources of real PULLs
# (appliance-to-appliance copies).  Runs on client1 of the test bed.
#
# usage: tests/wire.sh [ADDR [PORT]]	(default: appliance 7471)
#
# 1. xmem-wire-test --pull-source SOURCE ADDR PORT: every protocol test
#    (holds and read-only attachments of protocol minor 9 among them, with
#    xmemd --status on ADDR: tokens, takeover, and the grace a hold stays
#    for after its holder's end, ADDR's default --sole-grace of 12 s),
#    and real pulls from SOURCE, one of a region
#    a client holds there.  SOURCE is appliance2:7471 when the test
#    bed has a second appliance (scripts/xmem-vm --appliances 2), else a
#    second xmemd that this script starts on the appliance on port 7472.
# 2. Pulls between two xmemds that share a secret (ports 7473 and 7474 on
#    the appliance): the target authenticates to the source; and the one
#    with the secret must refuse ADDR:PORT, which has none, as a source.
# 3. xmem-wire-attack ADDR PORT: a key learnt by another connection is
#    useless, DETACH and a shrink revoke keys; and the cost of
#    ATTACH+DETACH against an INFO round trip (a diagnostic line).
# 4. Credentials, with an xmemd on port 7475 that has a key per host
#    (--hosts): xmemd without credentials does not start, nor with a hosts
#    file others can read; a wrong key, an unknown host and a client of
#    protocol 1.2 (no host name) get EACCES; the attack of 3. between two
#    hosts; quotas per host and per user (EDQUOT, nothing half-created);
#    ownership by (host, uid) and grants (protocol minor 5): uid 1000 and
#    uid 0 of hostA cannot attach, copy or destroy uid 1000-on-hostB's
#    region until hostB grants it, and not after the revoke;
#    revoking one host (SIGHUP) refuses it and leaves the other working;
#    the client module as a host; the audit counters and each host's and
#    user's usage (SIGUSR1, and xmemd --status, root only).
# 5. A copy whose source goes away mid-way (xmem-wire-test --break): a
#    target xmemd on port 7477 with --debug-hold holds its COPYs and
#    PULLs mid-way while the test destroys their source (EBUSY, the copy
#    completes, the source untouched) or kills the source xmemd on port
#    7476 (the PULL fails, nothing is left on the target).
# 6. A COPY in flight counts in its host's quota: with an xmemd on port
#    7478 (--hosts, --quota "hostA 4M", --debug-hold), a COPY of a 2M
#    region into a new one is held mid-way; meanwhile a 1M create of
#    hostA is over the quota (2M + 2M in flight + 1M); once the copy is
#    done, hostA holds 4M in two regions.  A COPY whose requester is
#    killed while it is held runs to its end and leaves no region, and
#    nothing in the quota.
# 7. A PULL copies only what the host that asked may read (protocol
#    minor 6): a source xmemd on port 7481 lists the target appliance as
#    "applT KEY act-for"; the target on port 7482 (--identity applT)
#    acts there for the host that asked.  hostB's region is pulled for
#    hostB and refused to hostA until hostB grants it; an identity
#    without act-for, a client host and an unknown host cannot act for
#    anybody; the identity alone reaches nothing; a revoked host is not
#    acted for.  The wire fuzzer runs there as hostA (authenticated, a
#    fresh seed each run, printed).
# 8. Temporary copies (protocol minor 8) that wait for the grace or a
#    restart (xmem-wire-test --temp; the others run in 1.): an xmemd on
#    port 7483 with --temp-grace 2 and --dir.  One nobody attaches goes
#    after the grace, not before; one that B has attached stays when A,
#    which made it, ends, and goes after the grace once B ends; one
#    attached when xmemd is killed, or stopped, is not there after the
#    restart, nor its files.  A region held alone (protocol minor 9) is
#    held again after a kill and after a stop, until its holder takes it
#    over with its token (--sole-grace 60 there: longer than a restart
#    takes); a hold ended by DETACH does not come back.  xmem-wire-test
#    restarts that xmemd with "wire.sh --restart-xmemd PORT ARGS..."
#    (XMEM_SIGNAL: KILL or TERM).
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

# wire.sh --restart-xmemd PORT ARGS...: stop the xmemd on PORT with
# signal $XMEM_SIGNAL (TERM; KILL as a crash would), wait until its RDMA
# CM ids are gone, and start it again with ARGS (for xmem-wire-test
# --temp, part 8).
if [ "${1:-}" = --restart-xmemd ]; then
	shift
	# shellcheck disable=SC2029 # the arguments are expanded here
	ssh -o BatchMode=yes appliance "kill -${XMEM_SIGNAL:-TERM} \$(cat /run/xmemd-$1.pid) &&
		for i in \$(seq 300); do
			rdma resource show cm_id 2>/dev/null | grep -q 'src-addr [^ ]*:$1 ' ||
				exit 0
			sleep 0.1
		done; exit 1" || { note "the xmemd on port $1 does not stop"; exit 1; }
	start_xmemd "$@"
	exit
fi

# 1. The protocol, and pulls from a second appliance.
if getent hosts appliance2 >/dev/null; then
	source=appliance2:7471
elif start_xmemd 7472 --insecure; then
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
t1=$SECONDS
rc3=0
xmem-wire-attack "$addr" "$port" >"$tmp/3.tap" || rc3=$?
echo "# part 3 (keys) took $((SECONDS - t1)) s" >>"$tmp/3.tap"

# 4. Credentials.
t1=$SECONDS
tap() {	# PART RESULT TEXT: a test line of part PART; RESULT 0 is ok
	if [ "$2" = 0 ]; then
		echo "ok 1 - $3"
	else
		echo "not ok 1 - $3"
	fi >>"$tmp/$1.tap"
}
t4() { tap 4 "$@"; }
# wa_op PORT PART HOST UID ARGS...: the REGION_REP status of one operation
# of HOST's UID on the xmemd on PORT, logged in PART's log.
wa_op() {
	local port=$1 part=$2 h=$3 u=$4

	shift 4
	xmem-wire-attack --probe --host "$h" --secret-file "$tmp/$h.key" \
		--uid "$u" "$@" appliance "$port" >>"$tmp/$part.log" 2>&1
	echo $?
}
# revoke PORT FILE REMOTE HOST: drop HOST's line from the hosts file FILE
# (REMOTE on the appliance) and have the xmemd on PORT read it (SIGHUP).
revoke() {
	grep -v "^$4 " "$2" >"$2.new"
	# shellcheck disable=SC2029 # the arguments are expanded here
	ssh -o BatchMode=yes appliance "cat >$3" <"$2.new" &&
		ssh -o BatchMode=yes appliance "kill -HUP \$(cat /run/xmemd-$1.pid)"
}
# wait_log PORT REGEX: the xmemd on PORT logged a line matching REGEX
# (bounded: 30 s); prints it.
wait_log() {
	# shellcheck disable=SC2029
	ssh -o BatchMode=yes appliance "for i in \$(seq 300); do
		grep -aE '$2' /var/log/xmemd-$1.log && exit 0; sleep 0.1; done; exit 1"
}
: >"$tmp/4.tap"
rc=$(ssh -o BatchMode=yes appliance \
	'/xmem/bin/xmemd -p 7475 -c 64M </dev/null >/var/log/xmemd-nocred.log 2>&1; echo $?; grep -c "no credentials" /var/log/xmemd-nocred.log')
t4 "$([ "$rc" = "$(printf '2\n1')" ] && echo 0)" \
	"xmemd without --hosts, --secret-file or --insecure refuses to start (exit status 2)"
(umask 077
 for h in hostA hostB; do head -c 32 /dev/urandom | base64 >"$tmp/$h.key"; done
 printf 'hostA %s\nhostB %s\n' "$(cat "$tmp/hostA.key")" "$(cat "$tmp/hostB.key")" \
	>"$tmp/hosts")
ssh -o BatchMode=yes appliance 'umask 022; cat >/run/xmem-hosts' <"$tmp/hosts"
rc=$(ssh -o BatchMode=yes appliance \
	'/xmem/bin/xmemd -p 7475 -c 64M --hosts /run/xmem-hosts </dev/null >/var/log/xmemd-mode.log 2>&1; echo $?')
t4 "$([ "$rc" = 1 ] && echo 0)" "xmemd refuses a hosts file that others can read (exit status $rc)"
printf 'hostA 16M 3\nhostA:1000 4M -\n' |
	ssh -o BatchMode=yes appliance 'cat >/run/xmem-quota'
if ssh -o BatchMode=yes appliance 'chmod 600 /run/xmem-hosts' &&
   start_xmemd 7475 --hosts /run/xmem-hosts --quota /run/xmem-quota; then
	probe() {	# HOST KEYFILE [MINOR]: the exit status of a probe
		xmem-wire-attack --probe --minor "${3:-3}" --host "$1" \
			--secret-file "$2" appliance 7475 >>"$tmp/4.log" 2>&1
		echo $?
	}
	t4 "$(probe hostA "$tmp/hostA.key")" "hostA with its key is served"
	t4 "$(probe hostB "$tmp/hostB.key")" "hostB with its key is served"
	t4 "$(($(probe hostA "$tmp/hostB.key") - 13))" "hostA with hostB's key: EACCES"
	t4 "$(($(probe hostC "$tmp/hostA.key") - 13))" "an unknown host: EACCES"
	t4 "$(($(probe hostA "$tmp/hostA.key" 2) - 13))" \
		"a protocol 1.2 client (no host name) where only per-host keys exist: EACCES"
	xmem-wire-attack --bench 0 --host hostA --secret-file "$tmp/hostA.key" \
		--attacker-host hostB --attacker-secret-file "$tmp/hostB.key" \
		appliance 7475 >>"$tmp/4.tap"
	# Quotas: hostA 16M and 3 regions, uid 1000 on hostA 4M.
	create() {	# HOST UID NAME SIZE: the REGION_REP status
		xmem-wire-attack --probe --host "$1" --secret-file "$tmp/$1.key" \
			--uid "$2" --create "$3" "$4" appliance 7475 >>"$tmp/4.log" 2>&1
		echo $?
	}
	op() { wa_op 7475 4 "$@"; }	# HOST UID ARGS...
	t4 "$(create hostA 1000 qa1 2097152)" "hostA uid 1000: a 2M region within the quotas"
	t4 "$(($(create hostA 1000 qa2 4194304) - 122))" \
		"hostA uid 1000: 4M more is over the user's byte quota: EDQUOT"
	t4 "$(($(xmem-wire-attack --probe --host hostA --secret-file "$tmp/hostA.key" \
		--info qa2 appliance 7475 >>"$tmp/4.log" 2>&1; echo $?) - 2))" \
		"nothing is left of the refused region (INFO: ENOENT)"
	t4 "$(create hostA 2000 qb1 1048576)" "hostA uid 2000: a second region"
	t4 "$(create hostA 2000 qb2 1048576)" "hostA uid 2000: a third region"
	t4 "$(($(create hostA 2000 qb3 1048576) - 122))" \
		"hostA: a fourth region is over the host's region quota: EDQUOT"
	t4 "$(($(op hostA 1000 --copy qa1 qcopy) - 122))" \
		"hostA: a COPY into a new region is over the region quota too: EDQUOT"
	t4 "$(($(op hostA 1000 --info qcopy) - 2))" \
		"nothing is left of the refused copy (INFO: ENOENT)"
	t4 "$(create hostB 1000 qc1 33554432)" "hostB has no quota: 32M"
	# Ownership by (host, uid), grants.
	t4 "$(create hostB 1000 gb1 1048576)" "hostB uid 1000 creates gb1"
	t4 "$(op hostB 1000 --attach gb1)" "hostB uid 1000 attaches its gb1"
	t4 "$(($(op hostA 1000 --attach gb1) - 13))" \
		"uid 1000 on hostA cannot attach uid 1000-on-hostB's gb1: EACCES"
	t4 "$(($(op hostA 0 --attach gb1) - 13))" \
		"uid 0 on hostA cannot attach hostB's gb1 either: EACCES"
	t4 "$(($(op hostA 1000 --copy gb1 gcopy) - 13))" \
		"a COPY of hostB's gb1 asked by hostA: EACCES"
	t4 "$(op hostA 2000 --copy-into qb1 qb2)" \
		"hostA uid 2000 copies its qb1 into its existing qb2"
	t4 "$(($(op hostA 2000 --copy-into qb1 gb1) - 13))" \
		"a COPY by hostA into hostB's existing gb1: EACCES"
	t4 "$(($(op hostA 1000 --info gcopy) - 2))" "nothing is left of the refused copy (INFO: ENOENT)"
	t4 "$(($(op hostA 1000 --destroy gb1) - 13))" "hostA cannot destroy gb1: EACCES"
	t4 "$(($(op hostA 1000 --grant gb1 hostA:1000) - 13))" \
		"hostA cannot grant itself hostB's gb1: EACCES"
	t4 "$(($(op hostB 2000 --grant gb1 hostA:1000) - 13))" \
		"uid 2000 of hostB, not the owner, cannot grant gb1: EACCES"
	t4 "$(op hostB 1000 --grant gb1 hostA:1000)" "hostB uid 1000 grants gb1 to hostA:1000"
	t4 "$(op hostA 1000 --attach gb1)" "with the grant, uid 1000 on hostA attaches gb1"
	t4 "$(($(op hostA 1001 --attach gb1) - 13))" \
		"the grant is for uid 1000 only: uid 1001 on hostA gets EACCES"
	t4 "$(($(op hostA 1000 --destroy gb1) - 13))" \
		"a grant does not let hostA destroy gb1: EACCES"
	t4 "$(op hostB 1000 --revoke gb1 hostA:1000)" "hostB revokes the grant"
	t4 "$(($(op hostA 1000 --attach gb1) - 13))" "after the revoke hostA gets EACCES again"
	t4 "$(($(op hostB 1000 --revoke gb1 hostA:1000) - 2))" "revoking it twice: ENOENT"
	t4 "$(op hostB 0 --grant gb1 hostA)" "uid 0 of hostB grants gb1 to the whole of hostA"
	t4 "$(op hostA 0 --attach gb1)" "uid 0 of hostA attaches gb1 (mode 0600)"
	t4 "$(op hostA 1000 --attach gb1)" \
		"with the host grant, uid 1000 of hostA attaches gb1 by the mode (owner uid)"
	t4 "$(($(op hostA 2000 --attach gb1) - 13))" \
		"with the host grant, uid 2000 of hostA is 'other' for mode 0600: EACCES"
	revoke 7475 "$tmp/hosts" /run/xmem-hosts hostB
	t4 "$(wait_log 7475 'SIGHUP: 1 hosts' >/dev/null; echo $?)" \
		"SIGHUP reads the hosts file again (hostB removed)"
	t4 "$(($(probe hostB "$tmp/hostB.key") - 13))" "revoked hostB: EACCES"
	t4 "$(probe hostA "$tmp/hostA.key")" "hostA still served after hostB's revocation"
	# The client module, as hostA and as revoked hostB (sysfs identity
	# and secret, then back to none).
	sysfs=/sys/class/misc/xmem
	if [ -w $sysfs/identity ]; then
		echo hostA >$sysfs/identity
		cat "$tmp/hostA.key" >$sysfs/secret
		rc=0
		xmemctl appliance add 10.77.0.1:7475 >>"$tmp/4.log" 2>&1 || rc=$?
		t4 "$rc" "the client module authenticates as hostA (appliance add)"
		if [ "$rc" = 0 ]; then
			# xmemctl region grant/revoke through the module, as
			# root of hostA: qa1 is hostA's, gb1 hostB's.
			xc() {	# WANT-ERRNO-TEXT ARGS...: 0 if xmemctl did that
				local want=$1 out rc

				shift
				out=$(xmemctl region "$@" 2>&1)
				rc=$?
				echo "xmemctl region $*: $out (exit $rc)" >>"$tmp/4.log"
				if [ -z "$want" ]; then
					[ "$rc" = 0 ]
				else
					[ "$rc" = 1 ] && grep -q "$want" <<<"$out"
				fi
				echo $?
			}
			t4 "$(xc '' grant qa1 hostB:1000)" \
				"xmemctl region grant qa1 hostB:1000 (root of hostA, the owner's host)"
			t4 "$(xc '' revoke qa1 hostB:1000)" "xmemctl region revoke qa1 hostB:1000"
			t4 "$(xc 'No such file' revoke qa1 hostB:1000)" \
				"xmemctl region revoke of a grant that is gone: ENOENT"
			t4 "$(xc 'Permission denied' grant gb1 hostA)" \
				"xmemctl region grant of hostB's gb1 from hostA: EACCES"
			t4 "$(($(op hostA 2000 --attach gb1) - 13))" \
				"the refused grant changed nothing: uid 2000 of hostA still gets EACCES"
			xmemctl appliance remove 10.77.0.1:7475 >>"$tmp/4.log" 2>&1
		fi
		echo hostB >$sysfs/identity
		cat "$tmp/hostB.key" >$sysfs/secret
		xmemctl appliance add 10.77.0.1:7475 >"$tmp/4b.log" 2>&1
		rc=$?
		cat "$tmp/4b.log" >>"$tmp/4.log"
		t4 "$([ "$rc" != 0 ] && grep -q "Permission denied" "$tmp/4b.log" && echo 0)" \
			"the client module as revoked hostB is refused (EACCES)"
		echo >$sysfs/secret
		echo >$sysfs/identity
	fi
	ssh -o BatchMode=yes appliance 'kill -USR1 $(cat /run/xmemd-7475.pid)'
	line=$(wait_log 7475 'status: ')
	n=$(sed -nE 's/.*refused: ([0-9]+) bad credentials.*/\1/p' <<<"$line" | tail -n 1)
	# hostA with hostB's key stops at the appliance's proof, in the
	# client: the appliance refused the other three.
	t4 "$([ "${n:-0}" -ge 3 ] && echo 0)" \
		"the status line counts the refused credentials (${n:-none}, want 3 at least)"
	n=$(sed -nE 's/.* ([0-9]+) over quota.*/\1/p' <<<"$line" | tail -n 1)
	t4 "$([ "${n:-0}" -ge 2 ] && echo 0)" \
		"the status line counts the quota refusals (${n:-none}, want 2 at least)"
	t4 "$(wait_log 7475 'status: host hostA: 4194304 bytes in 3 regions; quota 16777216 bytes, 3 regions' >/dev/null; echo $?)" \
		"the status lists hostA's usage and quota"
	t4 "$(wait_log 7475 'status: host hostA uid 1000: 2097152 bytes in 1 regions; quota 4194304 bytes, - regions' >/dev/null; echo $?)" \
		"the status lists the usage and quota of uid 1000 on hostA"
	# The same through the control socket, as an administrator asks.
	ssh -o BatchMode=yes appliance '/xmem/bin/xmemd -p 7475 --status' >"$tmp/4.status" 2>&1
	rc=$?
	sed 's/^/xmemd --status: /' "$tmp/4.status" >>"$tmp/4.log"
	t4 "$([ "$rc" = 0 ] &&
		grep -qx 'host hostA: 4194304 bytes in 3 regions; quota 16777216 bytes, 3 regions' "$tmp/4.status" &&
		grep -qx 'host hostA uid 1000: 2097152 bytes in 1 regions; quota 4194304 bytes, - regions' "$tmp/4.status" &&
		echo 0)" "xmemd --status shows hostA's usage and quota, and its uid 1000's"
	out=$(ssh -o BatchMode=yes appliance \
		'setpriv --reuid=65534 --regid=65534 --clear-groups /xmem/bin/xmemd -p 7475 --status 2>&1; echo "exit $?"')
	echo "xmemd --status as nobody: $out" >>"$tmp/4.log"
	t4 "$(grep -q 'Permission denied' <<<"$out" && grep -qx 'exit 1' <<<"$out" && echo 0)" \
		"xmemd --status as an unprivileged user: refused (the socket is root's, mode 0600)"
	note "audit lines of the xmemd with per-host keys:"
	ssh -o BatchMode=yes appliance "grep -a 'audit' /var/log/xmemd-7475.log | tail -n 12" |
		sed 's/^/#   /' >>"$tmp/4.tap"
else
	t4 1 "start an xmemd with per-host keys"
fi
sed 's/^/# /' "$tmp/4.log" >>"$tmp/4.tap" 2>/dev/null
echo "# part 4 (credentials, quotas) took $((SECONDS - t1)) s" >>"$tmp/4.tap"
rc4=0
grep -q '^not ok' "$tmp/4.tap" && rc4=1

# 5. A copy whose source goes away mid-way.
t1=$SECONDS
rc5=0
if start_xmemd 7476 --insecure &&
   start_xmemd 7477 --insecure --debug-hold /run/xmemd-7477.hold; then
	xmem-wire-test --break /run/xmemd-7477.hold /run/xmemd-7476.pid \
		--pull-source appliance:7476 appliance 7477 \
		>"$tmp/5.tap" || rc5=$?
else
	printf 'not ok 1 - start two xmemds for the broken copies\n1..1\n' \
		>"$tmp/5.tap"
	rc5=1
fi
echo "# part 5 (source gone mid-way) took $((SECONDS - t1)) s" >>"$tmp/5.tap"

# 6. A COPY in flight counts in its host's quota.
t1=$SECONDS
: >"$tmp/6.tap"
t6() { tap 6 "$@"; }
op6() { wa_op 7478 6 hostA "$@"; }	# UID ARGS...: as hostA
hold=/run/xmemd-7478.hold
# shellcheck disable=SC2029
if echo 'hostA 4M -' | ssh -o BatchMode=yes appliance "cat >/run/xmem-quota6; touch $hold" &&
   start_xmemd 7478 --hosts /run/xmem-hosts --quota /run/xmem-quota6 \
	--debug-hold "$hold"; then
	t6 "$(op6 1000 --create cq1 2097152)" "hostA: a 2M region within its 4M quota"
	op6 1000 --copy cq1 cq2 >"$tmp/6.copy" &
	copier=$!
	wait_log 7478 'copy [0-9]+: held while' >/dev/null
	t6 $? "a COPY of it into a new region is held mid-way"
	t6 "$(($(op6 1000 --create cq3 1048576) - 122))" \
		"hostA: 1M more while the copy is in flight is over the quota (2M + 2M in flight): EDQUOT"
	ssh -o BatchMode=yes appliance "rm -f $hold"
	wait "$copier"
	t6 "$(cat "$tmp/6.copy")" "the copy completes once released"
	t6 "$(($(op6 1000 --info cq3) - 2))" \
		"nothing is left of the refused create (INFO: ENOENT)"
	t6 "$(op6 1000 --info cq2)" "the copy's target is hostA's region"
	# The requester goes away while its COPY is held: the copy runs to
	# its end, and the region it made is dropped (nobody would learn of
	# it), and counts in no quota.
	t6 "$(op6 1000 --destroy cq2)" "hostA destroys the copy (2M of 4M in use)"
	ssh -o BatchMode=yes appliance "touch $hold"
	op6 1000 --copy cq1 cq4 >/dev/null &
	copier=$!
	# shellcheck disable=SC2029
	ssh -o BatchMode=yes appliance "for i in \$(seq 300); do
		[ \$(grep -ac 'copy [0-9]*: held while' /var/log/xmemd-7478.log) -ge 2 ] &&
		exit 0; sleep 0.1; done; exit 1"
	t6 $? "a second COPY, into a new region cq4, is held mid-way"
	pkill -f -- '--copy cq1 cq4 appliance 7478'
	wait "$copier"
	ssh -o BatchMode=yes appliance "rm -f $hold"
	line=$(wait_log 7478 'copy [0-9]+ .cq1.: FAILED .*the requester is gone')
	t6 $? "its requester killed, the copy ends and says so: ${line#*xmemd: }"
	t6 "$(($(op6 1000 --info cq4) - 2))" \
		"nothing is left of its target (INFO: ENOENT)"
	t6 "$(op6 1000 --create cq5 2097152)" \
		"hostA: 2M more fits its 4M quota: the dropped target counts in none"
else
	t6 1 "start an xmemd with quotas and --debug-hold"
fi
echo "# part 6 (a copy in flight in the quota) took $((SECONDS - t1)) s" >>"$tmp/6.tap"
rc6=0
grep -q '^not ok' "$tmp/6.tap" && rc6=1

# 7. A PULL is authorised at the source as the host that asked for it.
t1=$SECONDS
: >"$tmp/7.tap"
t7() { tap 7 "$@"; }
(umask 077
 for h in applT applU; do head -c 32 /dev/urandom | base64 >"$tmp/$h.key"; done
 for h in hostA hostB; do
	[ -s "$tmp/$h.key" ] || head -c 32 /dev/urandom | base64 >"$tmp/$h.key"
 done
 printf 'hostA %s\nhostB %s\napplT %s act-for\napplU %s\n' "$(cat "$tmp/hostA.key")" \
	"$(cat "$tmp/hostB.key")" "$(cat "$tmp/applT.key")" "$(cat "$tmp/applU.key")" \
	>"$tmp/hosts7"
 printf 'hostA %s\nhostB %s\n' "$(cat "$tmp/hostA.key")" "$(cat "$tmp/hostB.key")" \
	>"$tmp/hosts7t"
 printf 'applT %s\n' "$(cat "$tmp/applT.key")" >"$tmp/id7")
for f in hosts7 hosts7t id7; do
	ssh -o BatchMode=yes appliance "umask 077; cat >/run/xmem-$f" <"$tmp/$f"
done
if start_xmemd 7481 --hosts /run/xmem-hosts7 &&
   start_xmemd 7482 --hosts /run/xmem-hosts7t --identity /run/xmem-id7; then
	src=appliance:7481
	s7() { wa_op 7481 7 "$@"; }	# HOST UID ARGS...: at the source
	d7() { wa_op 7482 7 "$@"; }	# HOST UID ARGS...: at the target
	t7 "$(s7 hostB 1000 --create pb1 1048576)" "hostB uid 1000 creates pb1 at the source"
	t7 "$(($(d7 hostA 0 --pull pb1 "$src") - 13))" \
		"hostA has the target pull hostB's pb1: EACCES (the target acts for hostA)"
	t7 "$(($(d7 hostA 0 --info pb1) - 2))" "nothing is left of the refused pull (INFO: ENOENT)"
	t7 "$(d7 hostB 0 --pull pb1 "$src")" "hostB has the target pull its pb1"
	t7 "$(wait_log 7481 'host applT acts for host hostB' >/dev/null; echo $?)" \
		"the source logs the target acting for hostB"
	t7 "$(d7 hostB 0 --destroy pb1)" "hostB destroys the copy on the target"
	t7 "$(s7 hostB 1000 --grant pb1 hostA)" "hostB grants pb1 to hostA at the source"
	t7 "$(d7 hostA 0 --pull pb1 "$src")" "with the grant, hostA has the target pull pb1"
	t7 "$(d7 hostA 0 --destroy pb1)" "hostA destroys its copy on the target"
	t7 "$(($(s7 applU 0 --act-for hostB --info pb1) - 13))" \
		"an appliance identity without act-for cannot act for hostB: EACCES"
	t7 "$(($(s7 hostA 0 --act-for hostB --info pb1) - 13))" \
		"a client host cannot act for another: EACCES"
	t7 "$(($(s7 applT 0 --act-for hostC --info pb1) - 13))" \
		"the target cannot act for a host the source does not list: EACCES"
	t7 "$(($(s7 applT 0 --attach pb1) - 13))" \
		"the target's identity alone reaches nothing of hostB's: EACCES"
	t7 "$(s7 applT 0 --act-for hostB --attach pb1)" \
		"acting for hostB, the target attaches hostB's pb1 as uid 0 of hostB"
	# The wire fuzzer as an authenticated client host (the fuzz entry of
	# the integration tests runs it against an xmemd without credentials).
	seed=$(((RANDOM << 15 | RANDOM) % 1000000000))
	note "xmem-wire-fuzz as hostA against the xmemd with per-host keys: seed $seed" >>"$tmp/7.tap"
	xmem-wire-fuzz --seed "$seed" --count 2000 --hellos 3 --host hostA \
		--secret-file "$tmp/hostA.key" appliance 7481 |
		sed -E 's/^(ok|not ok) [0-9]+ - /\1 1 - fuzz as hostA (seed '"$seed"'): /' >>"$tmp/7.tap"
	t7 "${PIPESTATUS[0]}" "the wire fuzzer as hostA ends with exit status 0"
	revoke 7481 "$tmp/hosts7" /run/xmem-hosts7 hostB
	t7 "$(wait_log 7481 'SIGHUP: 3 hosts' >/dev/null; echo $?)" \
		"the source revokes hostB (SIGHUP)"
	t7 "$(($(d7 hostB 0 --pull pb1 "$src") - 13))" \
		"a host revoked at the source is not acted for: EACCES"
	t7 "$(($(d7 hostB 0 --info pb1) - 2))" "nothing is left of that pull (INFO: ENOENT)"
else
	t7 1 "start a source and a target xmemd with per-host keys"
fi
sed 's/^/# /' "$tmp/7.log" >>"$tmp/7.tap" 2>/dev/null
echo "# part 7 (a pull acts for its host) took $((SECONDS - t1)) s" >>"$tmp/7.tap"

# 8. Temporary copies: the grace, and restarts; holds across restarts.
t1=$SECONDS
rc8=0
temp8=(--insecure --temp-grace 2 --sole-grace 60 --dir /dev/shm/xmemd-7483)
if start_xmemd 7483 "${temp8[@]}"; then
	xmem-wire-test --temp /dev/shm/xmemd-7483 \
		"bash ${BASH_SOURCE[0]} --restart-xmemd 7483 ${temp8[*]}" \
		appliance 7483 >"$tmp/8.tap" || rc8=$?
else
	printf 'not ok 1 - start an xmemd with --temp-grace 2 and --dir\n1..1\n' \
		>"$tmp/8.tap"
	rc8=1
fi
echo "# part 8 (temporary copies: grace, restarts; holds across restarts) took $((SECONDS - t1)) s" >>"$tmp/8.tap"

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
' "$tmp/1.tap" "$tmp/2.tap" "$tmp/3.tap" "$tmp/4.tap" "$tmp/5.tap" \
	"$tmp/6.tap" "$tmp/7.tap" "$tmp/8.tap"

note "pull lines of the appliances' logs:"
ssh -o BatchMode=yes appliance \
	"grep -ahE ' (pull|copy) ' /var/log/xmemd.log /var/log/xmemd-*.log | tail -n 40" |
	sed 's/^/#   /'
for p in ${started[@]+"${started[@]}"}; do
	# shellcheck disable=SC2029
	ssh -o BatchMode=yes appliance "kill \$(cat /run/xmemd-$p.pid) 2>/dev/null"
done
ssh -o BatchMode=yes appliance 'rm -rf /dev/shm/xmemd-7483'
rc7=0
grep -q "^not ok" "$tmp/7.tap" && rc7=1
((rc1 == 0 && rc2 == 0 && rc3 == 0 && rc4 == 0 && rc5 == 0 && rc6 == 0 && rc7 == 0 &&
  rc8 == 0))
