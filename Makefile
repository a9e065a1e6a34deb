# kpin: the only build file.
#
#   make                 ./kpin and libkpin.a
#   make check           every test (unit, golden, CLI, corpus, docs)
#   make lint            mandoc lint and the banned-symbol check
#   make bench           benchmarks (not tests: they print numbers)
#   make demo            the quick-start demo
#   make install PREFIX=/usr/local DESTDIR=
#
# DEVELOPER=1 (set by .ci/run) turns warnings into errors.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man

CC ?= cc
AR ?= ar
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config

WARNINGS = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter \
	-Wno-missing-field-initializers
ifdef DEVELOPER
WARNINGS += -Werror
endif

# The goals that need no libraries.
NODEPS_GOALS = clean deps
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
# $(call need,module,min-version,debian-package)
need = $(if $(shell $(PKG_CONFIG) --atleast-version=$(2) $(1) 2>/dev/null && echo y),,\
	$(error $(1) >= $(2) not found by pkg-config: install the Debian package $(3) (apt-get install $(3)), or run tools/deps))
$(call need,libfyaml,0.7,libfyaml-dev)
$(call need,libgit2,1.5,libgit2-dev)
$(call need,libpcre2-8,10.34,libpcre2-dev)
ifneq ($(filter check check-% test% fuzz bench,$(MAKECMDGOALS)),)
$(call need,cmocka,1.1,libcmocka-dev)
endif
endif

DEPS = libfyaml libgit2 libpcre2-8
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS) 2>/dev/null)
# kpin loads libgit2 itself when a command needs it (src/git-lazy.h), so
# the binary links only libfyaml and PCRE2; tests link libgit2 as well.
KPIN_LIBS := $(shell $(PKG_CONFIG) --libs libfyaml libpcre2-8 2>/dev/null) \
	-lpthread -ldl
DEP_LIBS := $(shell $(PKG_CONFIG) --libs $(DEPS) 2>/dev/null) -lpthread -ldl
GIT2_SONAME := $(shell objdump -p "$$($(PKG_CONFIG) --variable=libdir \
	libgit2 2>/dev/null)/libgit2.so" 2>/dev/null | awk '/SONAME/ {print $$2}')
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-Iinclude $(WARNINGS) $(DEP_CFLAGS) $(CFLAGS) \
	$(if $(GIT2_SONAME),-DKPIN_GIT2_SONAME='"$(GIT2_SONAME)"')

B = build
LIB_SRCS = src/error.c src/xalloc.c src/buf.c src/file.c src/grammar.c \
	src/image.c src/kust.c src/diff.c src/repo.c src/message.c src/policy.c src/request.c \
	src/gitindex.c src/sha1.c src/remote.c src/git-lazy.c \
	src/check.c
CLI_SRCS = src/main.c src/cli.c src/cli-commit.c src/cmd-set.c src/cmd-get.c \
	src/cmd-apply.c src/cmd-check.c src/cmd-history.c \
	src/cmd-promote.c src/cmd-rollback.c
LIB_OBJS = $(LIB_SRCS:src/%.c=$(B)/%.o)
CLI_OBJS = $(CLI_SRCS:src/%.c=$(B)/%.o)

TEST_NAMES = test-buf test-grammar test-image test-kust test-diff \
	test-file test-golden test-cli test-corpus test-repo test-apply test-push test-check test-promote
TESTS = $(TEST_NAMES:%=$(B)/tests/%)

MANS = $(wildcard man/*.1 man/*.5)

.PHONY: all check lint install uninstall clean bench demo deps

all: kpin libkpin.a

$(B)/%.o: src/%.c $(wildcard include/*.h include/kpin/*.h src/*.h) | $(B)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B) $(B)/tests:
	mkdir -p $@

libkpin.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

kpin: $(CLI_OBJS) libkpin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) libkpin.a $(KPIN_LIBS)

$(B)/tests/harness.o: tests/harness.c tests/harness.h | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/%.c $(B)/tests/harness.o libkpin.a tests/harness.h | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(B)/tests/harness.o \
		libkpin.a $(DEP_LIBS) $(CMOCKA_LIBS)

# Each test program runs from the top of the tree with KPIN=./kpin.
check: kpin $(TESTS) lint
	@KPIN="$(CURDIR)/kpin" TESTDATA="$(CURDIR)/testdata" \
		sh tests/run-tests.sh $(TESTS) tests/doc-sync.sh \
		tests/man-examples.sh

lint: kpin
	@sh tests/lint.sh

bench: kpin
	@sh bench/run.sh

demo: kpin
	@sh tools/demo

deps:
	@sh tools/deps

install: kpin
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	cp kpin $(DESTDIR)$(BINDIR)/kpin
	chmod 755 $(DESTDIR)$(BINDIR)/kpin
	for m in $(MANS); do \
		s=$${m##*.}; cp $$m $(DESTDIR)$(MANDIR)/man$$s/; \
		chmod 644 $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kpin
	for m in $(MANS); do s=$${m##*.}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done

clean:
	rm -rf $(B) kpin libkpin.a
