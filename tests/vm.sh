#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Virtual machines on xmem (tools/xmem-qemu), in a 2-client test bed
# booted with --l2 --packages qemu-system-x86: a second-level guest
# (scripts/mkl2: stock 6.1 kernel, busybox, xmem-l2-workload writing and
# verifying a pattern over most of its RAM) runs in QEMU on client1 with
# all its RAM on region vm1, 8x client1's local limit.  TAP on stdout:
#
#	run        the guest boots, a workload round passes, the region's
#	           counters show dirty evictions and write-backs
#	migrate    zero-copy migration client1 -> client2 -> client1, twice,
#	           while the workload runs: RAM sent < 1 MiB each time, the
#	           workload goes on with no verification error
#	hotplug    memory add 128M: the guest onlines it and verifies a
#	           pattern on pages of it; memory remove: region destroyed,
#	           appliance bytes back
#	badinput   a destination that has not attached the region, a region
#	           smaller than -m, a regular file at /dev/xmem.d/NAME: exit
#	           status 1, a clear message, the VM keeps running
#
# Each test prints how long it took ("# NAME: N s").
#
# usage: vm.sh [NAME...]	(default: all, in the order above; migrate,
#				hotplug and badinput need run's VM)
# Environment: XMEM_VM_LIMIT (client local limit, default 16M),
# XMEM_VM_RAM (L2 RAM, default 128M), XMEM_VM_L2 (default /xmem/l2).
set -uo pipefail

l2=${XMEM_VM_L2:-/xmem/l2}
limit=${XMEM_VM_LIMIT:-16M}
ram=${XMEM_VM_RAM:-128M}
sys=/sys/class/misc/xmem
rundir=/run/xmem-qemu
names=(run migrate hotplug badinput)
(($#)) && names=("$@")

num=0
failed=0
passed=0
where=client1		# the host the VM runs on now

ok() {	# ok COND-STATUS TEXT
	num=$((num + 1))
	if [[ $1 == 0 ]]; then
		echo "ok $num - $2"
		passed=$((passed + 1))
	else
		echo "not ok $num - $2"
		failed=$((failed + 1))
	fi
}

on() {	# on HOST COMMAND...: run on a client (client1 is this one)
	local h=$1
	shift
	if [[ $h == client1 ]]; then
		bash -c "$*"
	else
		ssh "$h" "$*"
	fi
}

console() {	# console HOST: the L2 console of vm1 there
	on "$1" "tr -d '\r' < $rundir/vm1/console.log 2>/dev/null"
}

# wait_console HOST REGEX SECS: until the console there has a line
# matching REGEX; prints it.
wait_console() {
	local h=$1 re=$2 secs=$3 end=$((SECONDS + $3)) line

	while ((SECONDS < end)); do
		line=$(console "$h" | grep -aE -m1 "$re") && {
			echo "$line"
			return 0
		}
		sleep 2
	done
	echo "# $h: no '$re' on the L2 console within $secs s; its tail:" >&2
	console "$h" | tail -n 15 | sed 's/^/#   /' >&2
	on "$h" "xmem-qemu list" | sed 's/^/#   /' >&2
	return 1
}

mismatches() {	# mismatches HOST: verification errors on the console there
	console "$1" | grep -ac 'MISMATCH'
}

# tsc=reliable, no_timer_check: no clock watchdog or timer check, which
# nested TCG is too slow for.  The workload: 20 MiB (MemTotal is 48 MiB), above the 16M local limit.
l2_args=(-machine pc -accel tcg -smp 1 -nodefaults
	-kernel "$l2/vmlinux" -initrd "$l2/initrd.img"
	-append "console=ttyS0 memhp_default_state=online_movable tsc=reliable no_timer_check mitigations=off l2w.mib=20")

t_run() {
	local line round

	for h in client1 client2; do
		on "$h" "xmemctl limit $limit" || return 1
	done
	xmem-qemu run --size "$ram" --slots 2 --maxmem 1G vm1 -- \
		"${l2_args[@]}"
	ok $? "run: xmem-qemu run vm1 ($ram on region vm1, local limit $limit)"
	line=$(wait_console client1 '^l2w: start' 600)
	ok $? "run: the L2 guest booted and its workload started: $line"
	line=$(wait_console client1 '^l2w: round 1 done' 900)
	round=$?
	[[ $line =~ errors\ 0$ ]] || round=1
	ok "$round" "run: a full round verified: $line"
	local ev wb
	ev=$(cat $sys/regions/vm1/stats/evictions_dirty 2>/dev/null || echo 0)
	wb=$(cat $sys/regions/vm1/stats/bytes_written 2>/dev/null || echo 0)
	((ev > 0 && wb > 0))
	ok $? "run: region vm1 evicted dirty pages ($ev) and wrote back $wb bytes"
}

t_hotplug() {
	local out before after line n

	before=$(cat $sys/appliance_bytes)
	out=$(xmem-qemu -j memory add vm1 128M)
	ok $? "hotplug: memory add vm1 128M: $out"
	line=$(wait_console client1 '^l2w: hotplug verified' 900)
	n=$(sed -n 's/.*, \([0-9]*\) MiB on hot-added memory errors 0$/\1/p' \
		<<<"$line")
	[[ -n $n && $n -gt 0 ]]
	ok $? "hotplug: the guest onlined the DIMM and verified a pattern on it: $line"
	out=$(xmem-qemu -j memory remove vm1 dimm0)
	ok $? "hotplug: memory remove vm1 dimm0: $out"
	! xmemctl region list | grep -q 'vm1-dimm0'
	ok $? "hotplug: region vm1-dimm0 destroyed"
	after=$(cat $sys/appliance_bytes)
	[[ $after == "$before" ]]
	ok $? "hotplug: appliance bytes back to $before (now $after)"
	line=$(wait_console client1 '^l2w: memtotal [0-9]+ -> [0-9]+ kB' 60 |
		tail -n1)
	ok 0 "hotplug: guest saw: $line"
}

# migrate_to DEST: move vm1 from $where to DEST, check, update $where.
migrate_to() {
	local dest=$1 out sent rounds rc

	on "$dest" "xmemctl region attach vm1 >/dev/null" || {
		ok 1 "migrate: attach vm1 on $dest"
		return 1
	}
	out=$(on "$where" "xmem-qemu -j migrate vm1 $dest")
	rc=$?
	ok $rc "migrate: $where -> $dest: $out"
	((rc == 0)) || return 1
	sent=$(sed -n 's/.*"ram_transferred": \([0-9]*\).*/\1/p' <<<"$out")
	[[ -n $sent && $sent -lt 1048576 ]]
	ok $? "migrate: $where -> $dest: RAM sent $sent < 1 MiB"
	! on "$where" "test -e $sys/regions/vm1"
	ok $? "migrate: vm1 detached on $where (its cache dropped)"
	where=$dest
	# Two round ends on the new host: the second round ran entirely here.
	rounds=$(wait_console "$dest" '^l2w: round [0-9]+ done' 900) &&
		wait_console "$dest" \
			"^l2w: round $(($(sed 's/^l2w: round \([0-9]*\).*/\1/' \
				<<<"$rounds") + 1)) done" 900 >/dev/null
	ok $? "migrate: the workload completed a full round on $dest"
	[[ $(mismatches "$dest") == 0 ]]
	rc=$?
	ok $rc "migrate: no verification error on $dest"
	return $rc
}

t_migrate() {
	migrate_to client2 && migrate_to client1 &&
		migrate_to client2 && migrate_to client1
}

t_badinput() {
	local out rc

	# The VM runs on client1; client2 has not attached vm1.
	out=$(xmem-qemu migrate vm1 client2 2>&1)
	rc=$?
	[[ $rc == 1 && $out == *"not attached"* ]]
	ok $? "badinput: migrate to a host without the region: rc $rc: $out"
	[[ $(xmem-qemu qmp vm1 query-status | grep -c '"running"') == 1 ]]
	ok $? "badinput: vm1 still runs on client1"

	xmemctl region create small 64M >/dev/null
	out=$(xmem-qemu run --size 128M small -- "${l2_args[@]}" 2>&1)
	rc=$?
	[[ $rc == 1 && $out == *"smaller than the guest RAM"* ]]
	ok $? "badinput: region smaller than -m: rc $rc: $out"
	xmemctl region destroy small

	: >/dev/xmem.d/bogus 2>/dev/null || {
		mkdir -p /dev/xmem.d && : >/dev/xmem.d/bogus
	}
	out=$(xmem-qemu run --size 128M bogus -- "${l2_args[@]}" 2>&1)
	rc=$?
	[[ $rc == 1 && $out == *"regular file"* ]]
	ok $? "badinput: /dev/xmem.d/bogus a regular file: rc $rc: $out"
	! xmemctl region list | grep -qw bogus
	ok $? "badinput: the region it created is destroyed again"
	rm -f /dev/xmem.d/bogus
	[[ $(mismatches client1) == 0 ]] &&
		xmem-qemu qmp vm1 query-status | grep -q '"running"'
	ok $? "badinput: vm1 still runs, no verification error"
}

cleanup() {
	on "$where" "xmem-qemu stop --destroy vm1" >/dev/null 2>&1
	for h in client1 client2; do
		on "$h" "xmem-qemu stop --destroy vm1; xmemctl region detach vm1" \
			>/dev/null 2>&1
	done
}
trap cleanup EXIT

for n in "${names[@]}"; do
	start=$SECONDS
	echo "# ---- $n"
	"t_$n"
	echo "# $n: $((SECONDS - start)) s"
done
echo "1..$num"
echo "# vm.sh: $passed passed, $failed failed"
((failed == 0 && passed > 0))
