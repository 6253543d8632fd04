#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the xmem integration test programs in the client guest and merges
# their TAP output into one stream, renumbered and prefixed with the
# program's short name:
#
#	ok 7 - pattern: write-verify-4x-limit
#
# A program that crashes, times out, stops before its plan is complete or
# exits non-zero without a failing test adds a "not ok" line of its own,
# so no failure goes unreported.  Exit status 0 iff nothing failed and
# something passed.
#
# usage: integration.sh [--clients N] [--timeout SECONDS] [NAME...]
#	NAME: short program names (default: all), e.g. "pattern reload"
#	--timeout: kill each program after SECONDS.  Default: the sum of
#	its tests' own timeouts plus a minute ("PROGRAM -t"), so a hanging
#	test is reported by the program's harness as that test's timeout;
#	900 s for a program that cannot say ("-t" not understood).
#
# Environment: XMEM_BIN (default /xmem/bin), XMEM_TEST_LIMIT (cache size
# of the eviction tests; 1M on the debug kernel), and XMEM_APPLIANCE /
# XMEM_KERNEL as set by scripts/xmem-vm.
set -euo pipefail

bin=${XMEM_BIN:-/xmem/bin}
timeout_s=
# The order matters: reload unloads the module and resets its counters;
# stall stops xmemd (SIGSTOP) for a while and continues it whatever
# happens, waiting for the reconnection; restart kills and restarts xmemd, and wbfail cuts the appliance off for a
# while (it waits for the reconnection and removes its iptables rule
# whatever happens): they go just before it.  fuzz (xmem-test-fuzz: random
# and mutated ioctls, sysfs writes and wire messages) needs them all working.
names=(badinput fork pattern clean msync durable handoff region node pool ctl snap race mixed
	limit pager fuzz stall restart wbfail reload)
# criu (checkpoint/restore between the two clients, xmem-test-criu) on
# the stock kernels (about 3 minutes each).  The debug kernel cannot run
# it: its small configuration lacks CONFIG_CHECKPOINT_RESTORE and the
# sock_diag modules ("criu check": ns_last_pid missing, "Diag module
# missing"); it is reported there as skipped, with that reason.
skip_criu=
if [[ ${XMEM_KERNEL:-} == 6.1 || ${XMEM_KERNEL:-} == 6.12 ]]; then
	names=("${names[@]:0:11}" criu "${names[@]:11}")
elif [[ ${XMEM_KERNEL:-} == debug ]]; then
	skip_criu=1
fi

while (($#)); do
	case $1 in
	--clients) export XMEM_CLIENTS=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	-h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "integration.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if (($#)); then
	names=("$@")
	skip_criu=
fi

# The debug kernel (KASAN, lockdep) under TCG is several times slower: test
# eviction with the smallest cache there, still 4x smaller than the data.
if [[ ${XMEM_KERNEL:-} == debug && -z ${XMEM_TEST_LIMIT:-} ]]; then
	export XMEM_TEST_LIMIT=1M
fi

num=0
passed=0
failed=0
skipped=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

emit() {	# emit ok|not-ok TEXT: one renumbered result line
	num=$((num + 1))
	if [[ $1 == ok ]]; then
		echo "ok $num - $2"
		if [[ $2 =~ \#[[:space:]]*[Ss][Kk][Ii][Pp] ]]; then
			skipped=$((skipped + 1))
		else
			passed=$((passed + 1))
		fi
	else
		echo "not ok $num - $2"
		failed=$((failed + 1))
	fi
}

run_program() {	# run_program NAME
	local name=$1 prog="$bin/xmem-test-$1" line plan=0 seen=0 bad=0 rc limit
	local start=$SECONDS re='^(not )?ok [0-9]+( -)? ?(.*)$' klines

	echo "# ---- $name ($prog)"
	if [[ ! -x $prog ]]; then
		emit not-ok "$name: program $prog missing"
		return
	fi
	rm -f "$tmp/rc"
	limit=$timeout_s
	if [[ -z $limit ]]; then
		limit=$("$prog" -t 2>/dev/null </dev/null || true)
		if [[ $limit =~ ^[0-9]+$ ]] && ((limit > 0)); then
			limit=$((limit + 60))
		else
			limit=900
		fi
	fi
	klines=$(dmesg 2>/dev/null | wc -l || echo 0)
	exec {out}< <(
		rc=0
		timeout --kill-after=10 "$limit" "$prog" 2>&1 || rc=$?
		echo "$rc" >"$tmp/rc"
	)
	while IFS= read -r -u "$out" line; do
		if [[ $line =~ $re ]]; then
			seen=$((seen + 1))
			if [[ -n ${BASH_REMATCH[1]} ]]; then
				bad=$((bad + 1))
				emit not-ok "$name: ${BASH_REMATCH[3]}"
			else
				emit ok "$name: ${BASH_REMATCH[3]}"
			fi
		elif [[ $line =~ ^1\.\.([0-9]+) ]]; then
			plan=${BASH_REMATCH[1]}
		elif [[ $line == "# time "* ]]; then
			echo "# time $name: ${line#\# time }"
		elif [[ $line == \#* ]]; then
			echo "$line"
		else
			echo "# $line"
		fi
	done
	exec {out}<&-
	rc=$(cat "$tmp/rc" 2>/dev/null || echo "?")

	if [[ $rc == 124 || $rc == 137 ]]; then
		emit not-ok "$name: timed out after $limit s or killed (exit status $rc)"
		bad=$((bad + 1))
	elif ((plan == 0 || seen < plan)); then
		emit not-ok "$name: incomplete: plan $plan, $seen results, exit status $rc"
		bad=$((bad + 1))
	elif [[ $rc != 0 ]] && ((bad == 0)); then
		emit not-ok "$name: exit status $rc without a failing test"
		bad=$((bad + 1))
	fi
	echo "# ---- $name: $((SECONDS - start)) s, exit status $rc"
	if ((bad)); then
		echo "# kernel messages during $name (last 60):"
		dmesg 2>/dev/null | tail -n "+$((klines + 1))" | tail -n 60 |
			sed 's/^/#   /' || true
	fi
}

echo "# xmem integration tests: kernel $(uname -r), flavour ${XMEM_KERNEL:-?}," \
	"appliance ${XMEM_APPLIANCE:-?}, clients ${XMEM_CLIENTS:-?}," \
	"eviction tests' cache ${XMEM_TEST_LIMIT:-default}"
if [[ -n $skip_criu ]]; then
	emit ok "criu: checkpoint/restore # SKIP the debug kernel lacks $(
		)CONFIG_CHECKPOINT_RESTORE and the sock_diag modules criu needs"
fi
for name in "${names[@]}"; do
	run_program "$name"
done
echo "# integration: $passed passed, $failed failed, $skipped skipped"
echo "1..$num"
((failed == 0 && passed > 0))
