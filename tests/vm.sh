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
#	           counters show dirty evictions and write-backs; run created
#	           the region held alone and the guest's first touches were
#	           filled with zeroes on client1, not read
#	migrate    zero-copy migration client1 -> client2 -> client1, twice,
#	           while the workload runs: RAM sent < 1 MiB each time, the
#	           workload goes on with no verification error.  Each one
#	           hands the hold over: the destination may not attach vm1
#	           before, the migration ends the source's hold, the
#	           destination attaches vm1 and, once the source detached
#	           it, holds it alone
#	hotplug    memory add 128M: the guest onlines it and verifies a
#	           pattern on pages of it; memory remove: region destroyed,
#	           appliance bytes back
#	precopy    one pre-copy migration (no x-ignore-shared) of the same
#	           guest to the other client, for comparison: the guest's RAM
#	           crosses the network (more than the workload wrote) into a
#	           region of its own (vm1.1; vm1 destroyed, the appliance's
#	           bytes unchanged), the workload goes on with no
#	           verification error
#	copy       a copy migration (x-ignore-shared, the appliance copies
#	           the regions once the source stopped) to the other client:
#	           RAM sent < 1 MiB, the guest runs on a region of its own
#	           (NAME.N, filled by the appliance with all of the source's
#	           bytes), the source's region is kept on the appliance
#	           (bytes up by its size), the workload goes on with no
#	           verification error
#	copyappl   a copy migration onto another appliance (a second xmemd
#	           on the appliance guest, added to both clients' pools):
#	           RAM sent < 1 MiB, the guest runs on a region of its own
#	           on that appliance, which read all of the source's bytes
#	           from the first one (appliance to appliance; that no byte
#	           goes through a client is the snap integration test's),
#	           the source's region is kept on the first appliance, the
#	           workload goes on with no verification error
#	snapshot   xmem-qemu snapshot of the running guest (snap1: the
#	           appliance copies its region, the device state goes to a
#	           file), the guest goes on; then it is stopped, its region
#	           destroyed, and xmem-qemu restore on the other client starts
#	           it again from snap1 (on a copy): the workload goes on from
#	           the snapshot with no verification error
#	badinput   a destination that has not attached the region, a copy
#	           onto an appliance outside the pool, a region
#	           smaller than -m, a regular file at /dev/xmem.d/NAME: exit
#	           status 1, a clear message, the VM keeps running
#
# Each migration prints a "# migration: MODE A -> B ..." line with QEMU's
# RAM bytes sent, total time and downtime (make bench's VM rows read them).
#
# Each test prints how long it took ("# NAME: N s").
#
# usage: vm.sh [NAME...]	(default: all but precopy, in the order above;
#				the others need run's VM)
# Environment: XMEM_VM_LIMIT (client local limit, default 16M),
# XMEM_VM_RAM (L2 RAM, default 128M), XMEM_VM_L2 (default /xmem/l2).
set -uo pipefail

l2=${XMEM_VM_L2:-/xmem/l2}
limit=${XMEM_VM_LIMIT:-16M}
ram=${XMEM_VM_RAM:-128M}
sys=/sys/class/misc/xmem
rundir=/run/xmem-qemu
# precopy only when named: QEMU 7.2's own pre-copy of this guest under
# nested TCG loses pages with the guest's RAM in plain memory too
# (Documentation/vm.rst), so it would test QEMU, not xmem.
names=(run migrate hotplug copy copyappl snapshot badinput)
(($#)) && names=("$@")

num=0
failed=0
passed=0
where=client1		# the host the VM runs on now
ram_region=vm1		# the region of its RAM (vm1.N after pre-copy, copy)
kept=()			# regions a copy migration kept

other() {	# other: the client the VM does not run on
	[[ $where == client1 ]] && echo client2 || echo client1
}

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
# nested TCG is too slow for.  swiotlb=noforce: no 64 MiB bounce buffer
# (the guest has no DMA device); with it MemTotal was 48 MiB of 128 and
# the hot-add of a DIMM failed in the guest (add_pages: -ENOMEM for the
# new memory's memmap, "acpi PNP0C80:00: add_memory failed").  The
# workload: 20 MiB, above the 16M local limit.
wl_mib=20
l2_args=(-machine pc -accel tcg -smp 1 -nodefaults
	-kernel "$l2/vmlinux" -initrd "$l2/initrd.img"
	-append "console=ttyS0 memhp_default_state=online_movable tsc=reliable no_timer_check mitigations=off swiotlb=noforce l2w.mib=$wl_mib")

t_run() {
	local line round

	for h in client1 client2; do
		on "$h" "xmemctl limit $limit" || return 1
	done
	xmem-qemu run --size "$ram" --slots 2 --maxmem 1G vm1 -- \
		"${l2_args[@]}"
	ok $? "run: xmem-qemu run vm1 ($ram on region vm1, local limit $limit)"
	line=$(wait_console client1 '^l2w: start' 1200)
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
	# Created held alone: the guest's first touches were filled here.
	local zf
	zf=$(cat $sys/regions/vm1/stats/zero_fills 2>/dev/null || echo 0)
	xmemctl region show -j vm1 | grep -q '"held": true' && ((zf > 0))
	ok $? "run: region vm1 held alone, $zf first touches filled with zeroes here"
}

t_hotplug() {
	local out before after line n

	# 128M, not 64M: an x86-64 guest adds memory in whole memory blocks
	# of 128 MiB (memory_block_size_bytes()); Linux's
	# check_hotplug_memory_range() refuses a 64 MiB DIMM ("Block size
	# ... unaligned hotplug range"), so the guest would never see it.
	before=$(on "$where" "cat $sys/appliance_bytes")
	out=$(on "$where" "xmem-qemu -j memory add vm1 128M")
	ok $? "hotplug: memory add vm1 128M: $out"
	line=$(wait_console "$where" '^l2w: hotplug verified' 300) || {
		echo "# the L2 guest's kernel said:"
		console "$where" | grep -av '^l2w: round' | tail -n 40 |
			sed 's/^/#   /'
	}
	n=$(sed -n 's/.*, \([0-9]*\) MiB on hot-added memory errors 0$/\1/p' \
		<<<"$line")
	[[ -n $n && $n -gt 0 ]]
	ok $? "hotplug: the guest onlined the DIMM and verified a pattern on it: $line"
	out=$(on "$where" "xmem-qemu -j memory remove vm1 dimm0")
	ok $? "hotplug: memory remove vm1 dimm0: $out"
	! on "$where" "xmemctl region list" | grep -q 'vm1-dimm0'
	ok $? "hotplug: region vm1-dimm0 destroyed"
	after=$(on "$where" "cat $sys/appliance_bytes")
	[[ $after == "$before" ]]
	ok $? "hotplug: appliance bytes back to $before (now $after)"
	wait_console "$where" '^l2w: memtotal [0-9]+ -> [0-9]+ kB' 60 >/dev/null
	line=$(console "$where" | grep -aE '^l2w: memtotal [0-9]+ -> [0-9]+ kB' |
		tail -n1)
	[[ -n $line ]]
	ok $? "hotplug: the guest saw its memory grow and shrink: $line"
}

json_num() {	# json_num KEY JSON: a number in xmem-qemu -j's output
	sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" <<<"$2"
}

# migrate_to DEST [--precopy|--copy [--appliance ADDR:PORT]]: move vm1
# from $where to DEST, check, update $where.  The section's name is that
# of the running test.
migrate_to() {
	local dest=$1 mode=${2:-} t=migrate out sent rc before after reg
	local size copied appl=${4:-}

	[[ -z $mode ]] || t=${mode#--}
	[[ -z $appl ]] || t=copyappl
	# Held alone on $where (run created it, or a migration here handed
	# it over): $dest may not attach it, and the migration hands it over.
	# Else the destination's administrator
	# attaches it.  Pre-copy, copy: the destination creates regions of
	# its own.
	local held=
	if [[ -z $mode ]] &&
		on "$where" "xmemctl region show -j $ram_region" | grep -q '"held": true'; then
		held=1
		out=$(on "$dest" "xmemctl region attach $ram_region 2>&1")
		rc=$?
		[[ $rc != 0 ]]
		ok $? "$t: $ram_region held alone on $where, $dest may not attach it: rc $rc: $out"
	elif [[ -z $mode ]]; then
		on "$dest" "xmemctl region attach $ram_region >/dev/null" || {
			ok 1 "$t: attach $ram_region on $dest"
			return 1
		}
	fi
	before=$(on "$where" "cat $sys/appliance_bytes")
	out=$(on "$where" "xmem-qemu -j migrate $mode ${appl:+--appliance $appl} vm1 $dest")
	rc=$?
	ok $rc "$t: $where -> $dest: $out"
	((rc == 0)) || return 1
	if [[ -n $held ]]; then
		[[ $out == *"\"handed_over\": [\"$ram_region\"]"* &&
			$out == *"\"held_there\": [\"$ram_region\"]"* ]] &&
			on "$dest" "xmemctl region show -j $ram_region" |
				grep -q '"held": true'
		ok $? "$t: $where handed $ram_region over, $dest holds it alone now"
	fi
	sent=$(json_num ram_transferred "$out")
	echo "# migration: ${t/migrate/zero-copy} $where -> $dest:" \
		"ram_transferred $sent total_time_ms" \
		"$(json_num total_time_ms "$out") downtime_ms" \
		"$(json_num downtime_ms "$out") qemu_downtime_ms" \
		"$(json_num qemu_downtime_ms "$out") writeback_bytes" \
		"$(json_num writeback_bytes "$out")"
	if [[ $mode != --precopy ]]; then
		[[ -n $sent && $sent -lt 1048576 ]]
		ok $? "$t: $where -> $dest: RAM sent $sent < 1 MiB"
	fi
	if [[ $mode == --copy ]]; then
		# vm1 -> vm1.N, filled by the appliance; vm1 kept there.
		reg=$(sed -n 's/.*"regions": \["\([^"]*\)".*/\1/p' <<<"$out")
		size=$(on "$dest" "xmemctl region list" |
			awk -v r="$ram_region" '$1 == r { print $3 }')
		copied=$(json_num copied_bytes "$out")
		[[ -n $reg && -n $size && -n $copied ]] && ((copied >= size))
		ok $? "$t: the appliance copied all $size bytes of $ram_region into '$reg' on $dest ($copied bytes copied)"
		on "$dest" "xmemctl region list" | grep -qE "^${ram_region//./\\.} "
		ok $? "$t: region $ram_region kept on the appliance"
		after=$(on "$dest" "cat $sys/appliance_bytes")
		[[ -n $size && $after == $((before + size)) ]]
		ok $? "$t: appliance bytes $before before, $after after (+ $size)"
		if [[ -n $appl ]]; then
			[[ $(on "$dest" "cat $sys/regions/$reg/appliance") == "$appl" ]]
			ok $? "$t: '$reg' is on appliance $appl, $ram_region on the first"
		fi
	elif [[ -n $mode ]]; then
		# QEMU sends a zero page as a flag: at least what the
		# workload wrote crosses the network.
		[[ -n $sent && $sent -gt $((wl_mib << 20)) ]]
		ok $? "$t: $where -> $dest: RAM sent $sent bytes > the workload's $wl_mib MiB"
		# vm1 -> vm1.1: the guest runs on a region of its own there,
		# the old one is gone, the appliance holds as much as before.
		reg=$(sed -n 's/.*"regions": \["\([^"]*\)".*/\1/p' <<<"$out")
		on "$dest" "test -e $sys/regions/$reg" &&
			! on "$dest" "xmemctl region list" |
				grep -qE "^${ram_region//./\\.} "
		ok $? "$t: the guest's RAM is on region '$reg' on $dest, region $ram_region destroyed"
		after=$(on "$dest" "cat $sys/appliance_bytes")
		[[ $after == "$before" ]]
		ok $? "$t: appliance bytes $before before, $after after"
	fi
	! on "$where" "test -e $sys/regions/$ram_region"
	ok $? "$t: $ram_region detached on $where (its cache dropped)"
	where=$dest
	[[ $mode != --copy ]] || kept+=("$ram_region")
	[[ -z $mode ]] || ram_region=$reg
	goes_on "$dest" "$t" 300
}

# goes_on HOST TEST SECS: the workload, now on HOST, completes a full
# round (two round ends, the first within SECS) with no verification
# error.  Returns non-zero if it did not.
goes_on() {
	local h=$1 t=$2 rounds rc

	# Two round ends on the new host: the second round ran entirely here.
	rounds=$(wait_console "$h" '^l2w: round [0-9]+ done' "$3") &&
		wait_console "$h" \
			"^l2w: round $(($(sed 's/^l2w: round \([0-9]*\).*/\1/' \
				<<<"$rounds") + 1)) done" 300 >/dev/null
	ok $? "$t: the workload completed a full round on $h"
	[[ $(mismatches "$h") == 0 ]]
	rc=$?
	((rc == 0)) || console "$h" |
		grep -aE 'MISMATCH|^l2w: round [0-9]+ done' | head -n 30 |
		sed 's/^/#   /'
	ok $rc "$t: no verification error on $h"
	return $rc
}

# There and back twice (the ping-pong the VM issue asks for): client1 ->
# client2 -> client1 -> client2 -> client1; each return is to a host that
# ran the guest before, whose cache of the region was dropped when it left.
t_migrate() {
	migrate_to "$(other)" && migrate_to "$(other)" &&
		migrate_to "$(other)" && migrate_to "$(other)"
}

t_precopy() {
	migrate_to "$(other)" --precopy
}

# The guest runs well on its copy: the kept region, the fallback, is
# destroyed as a user would, and its bytes go back to the appliance.
t_copy() {
	local old=$ram_region before after

	migrate_to "$(other)" --copy || return 1
	before=$(on "$where" "cat $sys/appliance_bytes")
	on "$where" "xmemctl region destroy $old"
	ok $? "copy: the kept region $old destroyed once the guest runs on $ram_region"
	after=$(on "$where" "cat $sys/appliance_bytes")
	((after < before))
	ok $? "copy: appliance bytes $before before, $after after"
	kept=("${kept[@]/$old/}")
}

# A second xmemd on the appliance guest, in both clients' pools: the VM
# moves onto a copy of its regions there.  It stays there (snapshot and
# badinput run on it); the kept region on the first one is destroyed.
t_copyappl() {
	local addr=${XMEM_APPLIANCE%:*}:7480 old=$ram_region h

	# Started, then waited for until it listens (RDMA CM ID on 7480).
	ssh -o BatchMode=yes appliance "setsid -f /xmem/bin/xmemd --insecure \
		-p 7480 -c 1G </dev/null >/var/log/xmemd-7480.log 2>&1
		for i in \$(seq 300); do
			rdma resource show cm_id 2>/dev/null |
				grep -q 'src-addr [^ ]*:7480 ' && exit 0
			sleep 0.1
		done
		exit 1" </dev/null
	ok $? "copyappl: a second xmemd at $addr"
	for h in client1 client2; do
		on "$h" "echo $addr > $sys/appliance_add"
		ok $? "copyappl: $addr in the pool of $h"
	done
	migrate_to "$(other)" --copy --appliance "$addr" || return 1
	on "$where" "xmemctl region destroy $old"
	ok $? "copyappl: the kept region $old destroyed once the guest runs on $ram_region"
	kept=("${kept[@]/$old/}")
}

t_snapshot() {
	local out rc before after size dest snaps=/var/lib/xmem-qemu/snapshots

	before=$(on "$where" "cat $sys/appliance_bytes")
	out=$(on "$where" "xmem-qemu -j snapshot vm1 snap1")
	rc=$?
	ok $rc "snapshot: vm1 on $where as snap1: $out"
	((rc == 0)) || return 1
	kept+=(snap1)
	size=$(on "$where" "xmemctl region list" |
		awk '$1 == "snap1" { print $3 }')
	after=$(on "$where" "cat $sys/appliance_bytes")
	[[ -n $size && $(json_num copied_bytes "$out") == "$size" &&
		$after == $((before + size)) ]]
	ok $? "snapshot: region snap1 of $size bytes, appliance bytes $before before, $after after"
	on "$where" "xmem-qemu qmp vm1 query-status" | grep -q '"status": "running"'
	ok $? "snapshot: vm1 runs again on $where"

	# The VM goes away: its region with it.  The snapshot brings it back
	# on the other client, from the device state copied there.
	dest=$(other)
	on "$where" "xmem-qemu stop --destroy vm1"
	ok $? "snapshot: vm1 stopped on $where, region $ram_region destroyed"
	on "$where" "tar -C $snaps -c snap1" |
		on "$dest" "mkdir -p $snaps && tar -C $snaps -x"
	out=$(on "$dest" "xmem-qemu -j restore snap1 vm1")
	rc=$?
	ok $rc "snapshot: restore snap1 as vm1 on $dest: $out"
	((rc == 0)) || return 1
	where=$dest
	ram_region=vm1
	goes_on "$dest" "snapshot: restored" 600
}

t_badinput() {
	local out rc h=$where dest

	dest=$(other)
	# The VM runs on $h; $dest has not attached vm1 (or detached it when
	# the VM left).
	out=$(on "$h" "xmem-qemu migrate vm1 $dest 2>&1")
	rc=$?
	[[ $rc == 1 && $out == *"not attached"* ]]
	ok $? "badinput: migrate to a host without the region: rc $rc: $out"
	on "$h" "xmem-qemu qmp vm1 query-status" | grep -q '"status": "running"'
	ok $? "badinput: vm1 still runs on $h"

	# A copy onto an appliance that is not in the pool: refused at once.
	out=$(on "$h" "xmem-qemu migrate --copy --appliance 192.0.2.1:7471 vm1 $dest 2>&1")
	rc=$?
	[[ $rc == 1 && $out == *"not in this host's pool"* ]]
	ok $? "badinput: copy onto an appliance outside the pool: rc $rc: $out"

	on "$h" "xmemctl region create small 64M >/dev/null"
	out=$(on "$h" "xmem-qemu run --size 128M small -- ${l2_args[*]@Q} 2>&1")
	rc=$?
	[[ $rc == 1 && $out == *"smaller than the guest RAM"* ]]
	ok $? "badinput: region smaller than -m: rc $rc: $out"
	on "$h" "xmemctl region destroy small"

	on "$h" "mkdir -p /dev/xmem.d && : >/dev/xmem.d/bogus"
	out=$(on "$h" "xmem-qemu run --size 128M bogus -- ${l2_args[*]@Q} 2>&1")
	rc=$?
	[[ $rc == 1 && $out == *"regular file"* ]]
	ok $? "badinput: /dev/xmem.d/bogus a regular file: rc $rc: $out"
	! on "$h" "xmemctl region list" | grep -qw bogus
	ok $? "badinput: the region it created is destroyed again"
	on "$h" "rm -f /dev/xmem.d/bogus"
	[[ $(mismatches "$h") == 0 ]] &&
		on "$h" "xmem-qemu qmp vm1 query-status" | grep -q '"status": "running"'
	ok $? "badinput: vm1 still runs, no verification error"
}

cleanup() {
	on "$where" "xmem-qemu stop --destroy vm1" >/dev/null 2>&1
	for h in client1 client2; do
		on "$h" "xmem-qemu stop --destroy vm1; xmemctl region detach vm1; xmemctl region destroy vm1.1" \
			>/dev/null 2>&1
	done
	for r in ${kept[@]+"${kept[@]}"}; do
		xmemctl region destroy "$r" >/dev/null 2>&1
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
