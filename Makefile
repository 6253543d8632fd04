# SPDX-License-Identifier: GPL-2.0
#
# Top-level make file: wraps Kbuild for the module and builds the tools.
#
#   make                    xmem.ko against KDIR, and the userspace tools
#   make module K=6.1       xmem.ko for one test-bed kernel in out/6.1/
#                           (K is one of: debug 6.1 6.12)
#   make check              the whole test suite (see README)
#   make demo               boot the test bed and run the demo
#   make checkpatch         checkpatch --strict on the kernel sources

KDIR ?= /lib/modules/$(shell uname -r)/build
K ?= debug

KSRC := Kbuild VERSION xmem_core.c xmem_appliance.c xmem_rdma.c xmem_pager.c xmem_pager_sysfs.c \
	xmem_tlb.c xmem_wire.c xmem_acct.c \
	$(wildcard *.h) $(wildcard include/*.h include/uapi/*.h) \
	$(wildcard kunit/*.c kunit/*.h)

.PHONY: all modules module tools clean check demo bench checkpatch help

all: modules tools

modules:
	@test -d "$(KDIR)" || { echo "xmem: no kernel build tree at $(KDIR);" \
		"install the headers of the running kernel or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

# Out-of-tree builds for the test-bed kernels: one copy of the sources per
# kernel, so that builds for different kernels never share objects.
module: out/$(K)/.stamp

out/$(K)/.stamp: $(KSRC) Makefile
	@kdir=$$(scripts/kernels kdir $(K)) || exit 1; \
	mkdir -p out/$(K) && \
	rsync -a --relative $(KSRC) out/$(K)/ && \
	$(MAKE) -C "$$kdir" M=$(CURDIR)/out/$(K) W=1 modules && \
	touch $@

tools:
	$(MAKE) -C tools

check:
	scripts/check

demo:
	scripts/demo

# The benchmark: one test-bed boot, every row, bench/results.json and a
# chart (see Documentation/bench.rst).
bench:
	scripts/bench

checkpatch:
	scripts/check checkpatch

clean:
	-test -d "$(KDIR)" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf out
	$(MAKE) -C tools clean

help:
	@sed -n '3,12p' Makefile | sed 's/^# \{0,1\}//'
