# lifeboat: etcd backup and disaster recovery.
#
#   make            build build/lifeboat
#   make check      install test dependencies, build, run every test, then
#                   run them again under AddressSanitizer and UBSan
#   make demo       a local 3-member etcd, backed up and restored end to end
#   make bench      benchmarks against etcd's own tools (not part of check)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/lifeboat
UNITDIR ?= $(PREFIX)/lib/systemd/system
COMPDIR ?= $(PREFIX)/share/bash-completion/completions
BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	    -fno-sanitize-recover=all

PKGS     = libcurl openssl libzstd sqlite3 libarchive libmicrohttpd jansson expat
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
# The build's git revision, for --version only (main.c): $LB_GIT_REV when
# set (make deb passes the tree's to its copy), else `git describe` of this
# checkout, else "unknown" (a tarball of the source).
GIT_REV  := $(or $(LB_GIT_REV),$(shell [ -e .git ] && git describe --tags --always --dirty 2>/dev/null),unknown)

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
	   -Wno-format-nonliteral
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DLB_VERSION='"$(VERSION)"' $(WARN) \
	     -I. -Itests $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS   = $(PKG_LIBS) -lpthread -lm

MODULES = common config etcd snapshot stream sign repo evlog catalog scheduler env backup ops restore snapd cmd
SRCS    = $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
OBJS    = $(SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS = $(wildcard tests/unit/*_test.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS = $(wildcard tests/fuzz/*_fuzz.c)

.SECONDARY:
.PHONY: all deps check test unit integration fuzz demo bench install clean deb FORCE

MAN_PAGES = $(BUILD)/man/lifeboat.1 $(BUILD)/man/lifeboat.conf.5
all: $(BUILD)/lifeboat $(MAN_PAGES)

# The manual pages, generated from the binary: lifeboat(1) from each
# command's --help and the command table, lifeboat.conf(5) from the option
# table (the same source as `config options` and the example file).
$(BUILD)/man/lifeboat.1: $(BUILD)/lifeboat scripts/man-lifeboat.sh
	@mkdir -p $(dir $@)
	@echo "  MAN     $@"
	@sh scripts/man-lifeboat.sh $(BUILD)/lifeboat >$@.tmp && mv $@.tmp $@
$(BUILD)/man/lifeboat.conf.5: $(BUILD)/lifeboat
	@mkdir -p $(dir $@)
	@echo "  MAN     $@"
	@$(BUILD)/lifeboat config man >$@.tmp && mv $@.tmp $@

deps:
	@./scripts/deps.sh

# Every object carries VERSION (LB_VERSION): a new version rebuilds them.
$(BUILD)/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Only main.o carries the revision, rebuilt when the revision changes (the
# stamp is rewritten only then), so a commit recompiles one file.
$(BUILD)/gitrev: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' >$@
$(BUILD)/obj/main.o: $(BUILD)/gitrev
$(BUILD)/obj/main.o: ALL_CFLAGS += -DLB_GIT_REV='"$(GIT_REV)"'
FORCE:

$(BUILD)/liblifeboat.a: $(OBJS)
	@rm -f $@
	@ar rcs $@ $^

# No room includes a room above it (scripts/layers.sh, 0.1 s): checked
# whenever a source changes, so a wrong arrow fails the build.
HDRS = $(foreach m,$(MODULES),$(wildcard $(m)/*.h))
$(BUILD)/layers.ok: scripts/layers.sh main.c $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	@sh scripts/layers.sh
	@touch $@

$(BUILD)/lifeboat: $(BUILD)/obj/main.o $(BUILD)/liblifeboat.a $(BUILD)/layers.ok
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.ok,$^) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/liblifeboat.a
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The build of the tests themselves, without running them.
test: $(BUILD)/lifeboat $(UNIT_BINS)

# libFuzzer harnesses, one per parser of outside bytes (clang only); the
# library is compiled once with coverage and sanitizers, then each harness
# is linked against it.
FUZZ_BINS = $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DLB_VERSION='"$(VERSION)"' -I. \
	      $(PKG_CFLAGS) -g -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJS = $(SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
$(BUILD)/fuzz/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@clang $(FUZZ_CFLAGS) -c -o $@ $<
$(BUILD)/fuzz/libfuzzlb.a: $(FUZZ_OBJS)
	@rm -f $@
	@ar rcs $@ $^
# Harnesses are built without -MMD: the test headers they share are listed.
FUZZ_HDRS = $(wildcard tests/fuzz/*.h) tests/unit/bbolt_build.h
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_HDRS) $(BUILD)/fuzz/libfuzzlb.a
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libfuzzlb.a $(LDLIBS)
fuzz: $(FUZZ_BINS)

check: deps
	@$(MAKE) --no-print-directory -j2 test
	@$(MAKE) --no-print-directory -j2 test BUILD=$(BUILD)/asan CFLAGS='$(SAN_FLAGS)'
	@$(MAKE) --no-print-directory -j2 fuzz
	@BUILD=$(BUILD) ./tests/run.sh

demo: deps all
	@./scripts/demo.sh

bench: deps all
	@./bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(COMPDIR)
	install -m 0755 $(BUILD)/lifeboat $(DESTDIR)$(BINDIR)/lifeboat
	install -m 0644 $(BUILD)/man/lifeboat.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/man/lifeboat.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 contrib/lifeboat-snapd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 contrib/lifeboat.bash-completion $(DESTDIR)$(COMPDIR)/lifeboat
	sed 's|/usr/local/bin/lifeboat|$(BINDIR)/lifeboat|' contrib/lifeboat-snapd.service \
	    >$(DESTDIR)$(UNITDIR)/lifeboat-snapd.service
	install -m 0644 contrib/lifeboat.conf.example contrib/prometheus-alerts.yml \
	    contrib/grafana-dashboard.json README.md CHANGELOG.md $(DESTDIR)$(DOCDIR)/

# The Debian package, built with Debian's tools (dpkg-buildpackage and
# debhelper, debian/) from a copy of the tracked files in $(BUILD)/deb/src,
# so the source tree gets no file; the objects stay in $(BUILD)/deb/obj
# between runs (Debian's hardening flags differ from a plain build's, so
# they are compiled once there, then only what changed).  The result:
# $(BUILD)/deb/lifeboat_$(VERSION)_<arch>.deb.
deb:
	@./scripts/deb.sh $(BUILD)/deb

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Test drivers (tests/tools/*.c) the integration tests call to reach the
# library's API directly; built with the tests, never installed.
TOOL_SRCS = $(wildcard tests/tools/*.c)
TOOL_BINS = $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/liblifeboat.a
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
test: $(TOOL_BINS)
