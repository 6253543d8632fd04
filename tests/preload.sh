#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unmodified Debian programs on external memory through libxmem-preload.so,
# in a test-bed client, with the local cache limit set well below each
# program's peak heap.  For each program (sort, sqlite3, python3, and
# python3 forking a child that overwrites the heap it inherited):
#
#	ok N - sort: output identical with and without libxmem
#	ok N - sort: heap on the appliance region (backend xmem)
#	ok N - sort: peak heap 9437184 >= 2 x local limit 2097152
#	ok N - sort: 8388608 bytes placed on the appliance > local limit
#	ok N - sort: region held alone, 2048 first touches filled with zeroes here
#	ok N - sort: alloc/ counters gone after exit
#	ok N - sort: region destroyed after exit
#
# fork also checks that the child ran on the appliance's copy of the heap
# (XMEM_FORK=copy: SNAPSHOT with TEMP), which the module destroyed after
# the child exited.
#
# python3 also reads its region's alloc/ counters (XMEM_IOC_ACCOUNT, from
# libxmem) while it runs: bytes_in_use must be above the local limit.
# "alloc" runs xmem-test-alloc: the region grows and shrinks through
# XMEM_IOC_RESIZE (sizes read from the module), the data stays intact,
# and alloc/ equals libxmem's counters summed over open files.
#
# "Placed" is what the module wrote to the appliance for the program's
# region (regions/<name>/stats/bytes_written).  Without per-region stats
# it is the pages written while the program ran (stats/rdma_writes x
# 4096); before each run the cache is squeezed to 1 MiB so that at most
# 1 MiB of earlier dirty pages can be written during the run, and that
# 1 MiB is subtracted.
#
# usage: preload.sh [--limit BYTES] [NAME...]	(default: all, 2M)
# Environment: XMEM_LIB (default /xmem/lib).
set -uo pipefail

lib=${XMEM_LIB:-/xmem/lib}/libxmem-preload.so
limit=2M
sys=/sys/class/misc/xmem
names=(sort sqlite3 python3 fork alloc)

while (($#)); do
	case $1 in
	--limit) limit=$2; shift 2 ;;
	-h|--help) sed -n '3,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "preload.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
(($#)) && names=("$@")

num=0
failed=0
passed=0
emit() {	# emit ok|not-ok TEXT
	num=$((num + 1))
	if [[ $1 == ok ]]; then
		echo "ok $num - $2"
		passed=$((passed + 1))
	else
		echo "not ok $num - $2"
		failed=$((failed + 1))
	fi
}
check() {	# check TEXT COMMAND...: one result, ok iff COMMAND succeeds
	local text=$1
	shift
	if "$@"; then emit ok "$text"; else emit not-ok "$text"; fi
}
finish() {
	echo "# preload: $passed passed, $failed failed"
	echo "1..$num"
	((failed == 0 && passed > 0))
	exit
}

bytes() {	# bytes 2M -> 2097152
	numfmt --from=iec "${1%B}"
}

if [[ ! -r $lib ]]; then
	emit not-ok "setup: $lib missing"
	finish
fi
# After integration.sh's reload test the module may still be connecting.
for _ in $(seq 120); do
	[[ $(cat $sys/state 2>/dev/null) == connected ]] && break
	sleep 0.5
done
if [[ ! -c /dev/xmem || $(cat $sys/state 2>/dev/null) != connected ]]; then
	emit not-ok "setup: /dev/xmem not connected (state: $(cat $sys/state 2>/dev/null || echo none))"
	finish
fi

old_limit=$(cat $sys/local_limit)
tmp=$(mktemp -d)
trap 'echo "$old_limit" >$sys/local_limit; rm -rf "$tmp"' EXIT
limit_b=$(bytes "$limit")

# Inputs and programs.  Each builds a heap of several MiB, touched mostly
# in order (under TCG a fault costs milliseconds).
awk 'BEGIN { srand(11); for (i = 0; i < 40000; i++)
	printf "%08d %s\n", int(rand() * 1e8), substr("abcdefghijklmnopqrstuvwxyz0123456789", 1, 20 + i % 17) }' \
	>"$tmp/sort.in"
cat >"$tmp/sqlite3.sql" <<'EOF'
create table t(a integer primary key, b text);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 30000)
insert into t select x, printf('%.60d', x * 7919 % 1000003) from c;
select count(*), sum(a), max(b), min(b) from t;
select sum(length(b)) from t where a % 3 = 0;
EOF
# Python's cyclic GC would walk the whole structure at every full
# collection (reading it all back over the network each time): off.
cat >"$tmp/python3.py" <<'EOF'
import gc, hashlib
gc.disable()
rows = [(i, str(i * 7919 % 1000003) * 4) for i in range(30000)]
h = hashlib.sha256()
for i, s in rows:
    h.update(s.encode())
print(len(rows), h.hexdigest())
# Under libxmem: what the module shows for this heap, on stderr.
import os, sys
d = "/sys/class/misc/xmem/regions/preload-python3-%d/alloc/" % os.getpid()
if os.path.isdir(d):
    print("alloc", *(open(d + f).read().strip()
                     for f in ("slabs", "bytes_in_use", "bytes_reserved")),
          file=sys.stderr)
EOF

# fork(): the child scribbles over and frees the parent's structure; with
# the heap on a MAP_SHARED region that would show in the parent unless
# libxmem gives the child its own copy (XMEM_FORK=copy).
cat >"$tmp/fork.py" <<'EOF'
import gc, hashlib, os
gc.disable()
d = {i: str(i) * 8 for i in range(10000)}
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    for k in d:
        d[k] = "child"
    d.clear()
    junk = [str(i) * 50 for i in range(10000)]
    os.write(w, b"x")
    os._exit(0)
os.read(r, 1)
_, status = os.waitpid(pid, 0)
print(status, len(d), hashlib.sha256(repr(sorted(d.items())).encode()).hexdigest())
EOF

run_prog() {	# run_prog NAME: the program's command line
	case $1 in
	# sort sizes its buffer from the machine's RAM (tens of MiB here);
	# -S keeps the run short, the peak still several times the limit.
	sort) sort -S 6M "$tmp/sort.in" ;;
	sqlite3) sqlite3 :memory: <"$tmp/sqlite3.sql" ;;
	python3) python3 "$tmp/python3.py" ;;
	fork) python3 "$tmp/fork.py" ;;
	*) echo "unknown program $1" >&2; return 2 ;;
	esac
}

# after_exit NAME REGION: the region's alloc/ counters went with the
# process; then destroy the region (nothing else frees it).
after_exit() {
	local d=$sys/regions/$2
	check "$1: alloc/ counters gone after exit ($(cat "$d/alloc/slabs" \
		"$d/alloc/bytes_in_use" "$d/alloc/bytes_reserved" 2>&1 | xargs))" \
		test "$(cat "$d/alloc/slabs" "$d/alloc/bytes_in_use" \
			"$d/alloc/bytes_reserved" 2>/dev/null | xargs)" = "0 0 0"
	check "$1: region $2 destroyed after exit" \
		xmemctl region destroy "$2"
}

# check_fork_copy: XMEM_FORK=copy gave the child the appliance's copy of
# the heap's region (SNAPSHOT with TEMP), not a local one, and the module
# destroyed that copy once the child had exited (a work item: waited for,
# 30 s at most).
check_fork_copy() {
	local deadline=$((SECONDS + 30)) temps
	check "fork: no fall back to a local copy of the heap" \
		eval '! grep -q "the child copies the heap into local memory" "$tmp/fork.err"'
	while :; do
		temps=$(dmesg | grep -c ': temporary, destroyed$')
		((temps > temps0 || SECONDS >= deadline)) && break
		sleep 0.2
	done
	echo "# fork: $(dmesg | grep ': temporary, destroyed$' | tail -n1)"
	check "fork: the child's copy of the region destroyed after it exited" \
		test "$temps" -gt "$temps0"
	check "fork: no copy left on the appliance" \
		eval '! xmemctl region list | grep -Eq "(^|[[:space:]])libxmem-[0-9]+-fork-"'
}

# The allocator's own checks: growth, shrink, accounting.
run_alloc() {
	local prog=${XMEM_LIB:-/xmem/lib}/../bin/xmem-test-alloc line region
	local rc=0 bad=0
	[[ -x $prog ]] || prog=$(command -v xmem-test-alloc)
	if [[ ! -x $prog ]]; then
		emit not-ok "alloc: xmem-test-alloc missing"
		return
	fi
	"$prog" >"$tmp/alloc.out" 2>&1 || rc=$?
	echo "# alloc: exit status $rc"
	while IFS= read -r line; do
		case $line in
		"ok - "*) emit ok "alloc: ${line#ok - }" ;;
		"not ok - "*)
			emit not-ok "alloc: ${line#not ok - }"
			bad=$((bad + 1))
			;;
		"region "*) region=${line#region } ;;
		*) echo "# $line" ;;
		esac
	done <"$tmp/alloc.out"
	# A crash or an exit(1) after the last "ok" must not pass.
	if ((rc != 0 && bad == 0)); then
		emit not-ok "alloc: exit status $rc without a failing check"
	fi
	if [[ -z ${region:-} ]]; then
		emit not-ok "alloc: xmem-test-alloc did not finish"
		return
	fi
	after_exit alloc "$region"
}

echo "# preload: kernel $(uname -r), local limit $limit ($limit_b bytes)," \
	"was $old_limit; library $lib"
for name in "${names[@]}"; do
	if [[ $name == alloc ]]; then
		run_alloc
		continue
	fi
	start=$SECONDS
	if ! run_prog "$name" >"$tmp/$name.plain" 2>"$tmp/$name.plain.err"; then
		emit not-ok "$name: fails without libxmem: $(head -c 200 "$tmp/$name.plain.err")"
		continue
	fi
	# Squeeze earlier regions' pages out, then the limit under test.
	echo 1M >$sys/local_limit
	echo "$limit_b" >$sys/local_limit
	w0=$(cat $sys/stats/rdma_writes)
	temps0=$(dmesg | grep -c ': temporary, destroyed$')
	rc=0
	LD_PRELOAD=$lib XMEM_STATS=1 XMEM_RESERVE=64M XMEM_MMAP_THRESHOLD=64K \
		XMEM_FALLBACK=fail XMEM_REGION="preload-$name-%p" \
		run_prog "$name" >"$tmp/$name.xmem" 2>"$tmp/$name.err" || rc=$?
	w1=$(cat $sys/stats/rdma_writes)
	sed 's/^/# /' "$tmp/$name.err"
	echo "# $name: $((SECONDS - start)) s, exit status $rc," \
		"$((w1 - w0)) pages written to the appliance"
	if [[ $rc != 0 ]]; then
		emit not-ok "$name: exit status $rc under libxmem"
		continue
	fi
	check "$name: output identical with and without libxmem" \
		cmp -s "$tmp/$name.plain" "$tmp/$name.xmem"
	check "$name: heap on the appliance region (backend xmem)" \
		grep -q '^libxmem: backend xmem region preload-' "$tmp/$name.err"
	# The last report is the program's own (a forked child exits first).
	peak=$(awk '$2 == "high_water_bytes" { v = $3 } END { print v }' "$tmp/$name.err")
	peak=${peak:-0}
	check "$name: peak heap $peak >= 2 x local limit $limit_b" \
		test "$peak" -ge $((2 * limit_b))
	# The program's own region's counter when the module has per-region
	# stats; else the global page count, less the 1 MiB left before.
	region=$(sed -n 's/^libxmem: backend xmem region \(.*\)$/\1/p' \
		"$tmp/$name.err" | tail -n1)
	rstat=$sys/regions/$region/stats/bytes_written
	if [[ -n $region && -r $rstat ]]; then
		placed=$(cat "$rstat")
		how="region $region stats/bytes_written"
	else
		placed=$(((w1 - w0) * 4096 - 1048576))
		how="stats/rdma_writes x 4096 - 1M"
	fi
	check "$name: $placed bytes placed on the appliance > local limit ($how)" \
		test "$placed" -gt "$limit_b"
	# The heap's region is created held (SOLE): a page's first touch is
	# filled here, not read from the appliance.
	zf=$(cat "$sys/regions/$region/stats/zero_fills" 2>/dev/null || echo 0)
	rd=$(cat "$sys/regions/$region/stats/bytes_read" 2>/dev/null || echo 0)
	check "$name: region held alone, $zf first touches filled with zeroes here ($rd bytes read)" \
		eval 'grep -q "^libxmem: sole 1$" "$tmp/$name.err" && test "$zf" -gt 0'
	if [[ $name == python3 ]]; then
		read -r _ slabs used resv < <(grep '^alloc ' "$tmp/$name.err")
		check "$name: alloc/ while running: ${slabs:-?} slabs, ${used:-?} bytes in use > local limit, <= ${resv:-?} reserved" \
			test "${slabs:-0}" -gt 0 -a "${used:-0}" -gt "$limit_b" \
			-a "${used:-0}" -le "${resv:-0}"
	fi
	if [[ $name == fork ]]; then
		check_fork_copy
	fi
	[[ -n $region ]] && after_exit "$name" "$region"
done
finish
