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
#   make install            module (DKMS if installed), tools, libraries,
#                           headers, man pages, systemd units, udev rule;
#                           DESTDIR= and PREFIX= (default /usr/local)
#   make uninstall          removes what make install installed
#   make deb                Debian packages in out/deb/ (dpkg-buildpackage)

KDIR ?= /lib/modules/$(shell uname -r)/build
K ?= debug
VERSION := $(shell cat VERSION)

# Installation directories.  With PREFIX=/usr (the packages) the systemd
# units and the udev rule go where the distribution's own go; otherwise
# under /etc, which is for the administrator's.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
LIBEXECDIR ?= $(PREFIX)/libexec
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/xmem
SYSCONFDIR ?= /etc
ifeq ($(PREFIX),/usr)
UNITDIR ?= /lib/systemd/system
UDEVRULESDIR ?= /lib/udev/rules.d
else
UNITDIR ?= $(SYSCONFDIR)/systemd/system
UDEVRULESDIR ?= $(SYSCONFDIR)/udev/rules.d
endif
# The module's source for DKMS, and whether make install uses DKMS: only
# when installing into this system (no DESTDIR) and dkms is there.
DKMSSRC := /usr/src/xmem-$(VERSION)
USE_DKMS ?= $(if $(DESTDIR),,$(if $(shell command -v dkms),1))
INSTALL ?= install

KSRC := Kbuild VERSION xmem_core.c xmem_region.c xmem_fops.c xmem_node.c \
	xmem_drain.c xmem_snap.c xmem_grant.c \
	xmem_appliance.c xmem_rdma.c xmem_pager.c xmem_pager_sysfs.c \
	xmem_tlb.c xmem_wire.c xmem_acct.c \
	$(wildcard *.h) $(wildcard include/*.h include/uapi/*.h) \
	$(wildcard kunit/*.c kunit/*.h)

.PHONY: all modules module tools clean check demo bench checkpatch help \
	install uninstall install-module uninstall-module install-dkms-src \
	install-client install-xmemd install-utils install-lib deb \
	build-xmemd build-utils build-lib

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

# ---- installation ----------------------------------------------------
#
# One target per part, so that debian/rules installs each package's files
# with the same rules as make install.

install: install-module install-client install-xmemd install-utils install-lib

# The module's sources and dkms.conf (its version filled in) as DKMS wants
# them in /usr/src/xmem-VERSION.
install-dkms-src:
	$(INSTALL) -d $(DESTDIR)$(DKMSSRC)
	tar -cf - $(KSRC) | tar -xf - -C $(DESTDIR)$(DKMSSRC) --no-same-owner
	sed 's/#MODULE_VERSION#/$(VERSION)/' dkms.conf \
		>$(DESTDIR)$(DKMSSRC)/dkms.conf
	chmod 644 $(DESTDIR)$(DKMSSRC)/dkms.conf

ifeq ($(USE_DKMS),1)
install-module: install-dkms-src
	dkms install xmem/$(VERSION)
uninstall-module:
	-dkms remove xmem/$(VERSION) --all
	rm -rf $(DESTDIR)$(DKMSSRC)
else
install-module: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) modules_install
uninstall-module:
	rm -f $(DESTDIR)/lib/modules/$(notdir $(patsubst %/build,%,$(KDIR)))/updates/xmem.ko*
	-test -n "$(DESTDIR)" || depmod -a $(notdir $(patsubst %/build,%,$(KDIR)))
endif

# The client's boot unit, module options, modules-load.d example and the
# udev rule of /dev/xmem.
install-client:
	$(INSTALL) -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/modprobe.d \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 644 config/xmem-client.service $(DESTDIR)$(UNITDIR)/
	$(INSTALL) -m 644 config/xmem.modprobe.conf \
		$(DESTDIR)$(SYSCONFDIR)/modprobe.d/xmem.conf
	$(INSTALL) -m 644 config/xmem.modules-load.conf \
		$(DESTDIR)$(DOCDIR)/examples/modules-load.d-xmem.conf
	$(INSTALL) -m 644 udev/60-xmem.rules $(DESTDIR)$(UDEVRULESDIR)/

# Only what each part installs is built (the tests and benchmarks are not).
build-xmemd:
	$(MAKE) -C tools/xmemd xmemd
build-utils:
	$(MAKE) -C tools/xmemctl
	$(MAKE) -C tools/tests xmem-demo
build-lib:
	$(MAKE) -C tools/libxmem lib

install-xmemd: build-xmemd
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/xmem $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 755 tools/xmemd/xmemd $(DESTDIR)$(SBINDIR)/
	sed 's|@SBINDIR@|$(SBINDIR)|g' tools/xmemd/xmemd.service.in \
		>$(DESTDIR)$(UNITDIR)/xmemd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/xmemd.service
	$(INSTALL) -m 644 tools/xmemd/xmemd.conf $(DESTDIR)$(SYSCONFDIR)/xmem/
	$(INSTALL) -m 644 Documentation/man/xmemd.8 $(DESTDIR)$(MANDIR)/man8/

# xmemctl, its man page, the demo program and, where it exists, xmem-qemu.
install-utils: build-utils
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR)/xmem \
		$(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 755 tools/xmemctl/xmemctl $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 755 tools/tests/xmem-demo $(DESTDIR)$(LIBEXECDIR)/xmem/
	$(INSTALL) -m 644 Documentation/man/xmemctl.8 $(DESTDIR)$(MANDIR)/man8/
	if [ -f tools/xmem-qemu ]; then \
		$(INSTALL) -d $(DESTDIR)$(BINDIR) && \
		$(INSTALL) -m 755 tools/xmem-qemu $(DESTDIR)$(BINDIR)/; fi

# libxmem: libraries (libxmem-preload.so, an LD_PRELOAD module nothing
# links against, in LIBDIR/xmem/), xmem_alloc.h, the uapi header as
# <xmem/xmem.h>, libxmem.pc.
install-lib: build-lib
	$(MAKE) -C tools/libxmem install PREFIX=$(PREFIX) LIBDIR=$(LIBDIR) \
		INCLUDEDIR=$(INCLUDEDIR) VERSION=$(VERSION)
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR)/xmem
	$(INSTALL) -m 644 include/uapi/xmem.h $(DESTDIR)$(INCLUDEDIR)/xmem/

uninstall: uninstall-module
	rm -f $(DESTDIR)$(UNITDIR)/xmem-client.service \
		$(DESTDIR)$(UNITDIR)/xmemd.service \
		$(DESTDIR)$(SYSCONFDIR)/modprobe.d/xmem.conf \
		$(DESTDIR)$(UDEVRULESDIR)/60-xmem.rules \
		$(DESTDIR)$(SYSCONFDIR)/xmem/xmemd.conf \
		$(DESTDIR)$(SBINDIR)/xmemd $(DESTDIR)$(SBINDIR)/xmemctl \
		$(DESTDIR)$(BINDIR)/xmem-qemu \
		$(DESTDIR)$(MANDIR)/man8/xmemd.8 $(DESTDIR)$(MANDIR)/man8/xmemctl.8 \
		$(DESTDIR)$(INCLUDEDIR)/xmem/xmem.h
	rm -rf $(DESTDIR)$(LIBEXECDIR)/xmem $(DESTDIR)$(DOCDIR)
	-rmdir $(DESTDIR)$(SYSCONFDIR)/xmem $(DESTDIR)$(INCLUDEDIR)/xmem
	$(MAKE) -C tools/libxmem uninstall PREFIX=$(PREFIX) LIBDIR=$(LIBDIR) \
		INCLUDEDIR=$(INCLUDEDIR)

# Debian packages, built from a copy of the tree in out/deb/ so that the
# tree stays clean; the .deb files land in out/deb/.
deb:
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version) && \
	[ "$$v" = "$(VERSION)" ] || { echo "xmem: debian/changelog says" \
		"$$v, VERSION says $(VERSION)" >&2; exit 1; }
	rm -rf out/deb && mkdir -p out/deb/xmem-$(VERSION)
	tar -cf - --exclude=./out --exclude=./.git . | \
		tar -xf - -C out/deb/xmem-$(VERSION)
	$(MAKE) -C out/deb/xmem-$(VERSION) clean KDIR=/nonexistent >/dev/null
	cd out/deb/xmem-$(VERSION) && dpkg-buildpackage -b -us -uc
	@ls out/deb/*.deb

clean:
	-test -d "$(KDIR)" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf out
	$(MAKE) -C tools clean

help:
	@sed -n '3,17p' Makefile | sed 's/^# \{0,1\}//'
