# kpin: the only build file.
#
#   make                 ./kpin and libkpin.a
#   make check           every test (unit, golden, CLI, corpus, docs)
#   make check-asan      make check built with ASan + UBSan (build/asan)
#   make check-valgrind  unit tests and CLI tests under valgrind memcheck
#   make fuzz-run        each libFuzzer target FUZZ_SECONDS (60) seconds
#   make lint            mandoc lint and the banned-symbol check
#   make bench           benchmarks (not tests: they print numbers)
#   make demo            the quick-start demo
#   make install PREFIX=/usr/local DESTDIR=   (binary, man pages, bash
#                        and zsh completion)
#   make deb             the Debian package, into build/ (debian/)
#   make check-deb       build the package, install it in a scratch root, run it
#
# DEVELOPER=1 (set by .ci/run) turns warnings into errors.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions

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

# The one libfyaml version kpin is built and run against: src/yaml.c holds
# its workarounds and refuses, at run time, a library of another version.
LIBFYAML_VERSION = 0.7.12

# The goals that need no libraries.
NODEPS_GOALS = clean deps
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
# $(call need,module,min-version,debian-package)
need = $(if $(shell $(PKG_CONFIG) --atleast-version=$(2) $(1) 2>/dev/null && echo y),,\
	$(error $(1) >= $(2) not found by pkg-config: install the Debian package $(3) (apt-get install $(3)), or run tools/deps))
$(if $(shell $(PKG_CONFIG) --exact-version=$(LIBFYAML_VERSION) libfyaml 2>/dev/null && echo y),,\
	$(error libfyaml $(LIBFYAML_VERSION) not found by pkg-config: src/yaml.c works around that version's bugs; install libfyaml-dev $(LIBFYAML_VERSION)))
$(call need,libgit2,1.5,libgit2-dev)
$(call need,libpcre2-8,10.34,libpcre2-dev)
$(call need,libcrypto,3.0,libssl-dev)
ifneq ($(filter check check-% test% bench,$(MAKECMDGOALS)),)
$(call need,cmocka,1.1,libcmocka-dev)
endif
endif

DEPS = libfyaml libgit2 libpcre2-8
FYAML_PIN = -DKPIN_LIBFYAML_VERSION='"$(LIBFYAML_VERSION)"'
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
	-Iinclude $(WARNINGS) $(DEP_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(FYAML_PIN) \
	$(if $(GIT2_SONAME),-DKPIN_GIT2_SONAME='"$(GIT2_SONAME)"') \
	-DKPIN_MANDIR='"$(MANDIR)"'

B = build
KPIN_BIN = kpin
LIBKPIN = libkpin.a
LIB_SRCS = src/error.c src/xalloc.c src/buf.c src/file.c src/grammar.c \
	src/yaml.c \
	src/image.c src/kust.c src/diff.c src/repo.c src/update.c src/worktree.c src/history.c src/order.c src/message.c src/status.c src/policy.c src/request.c \
	src/gitindex.c src/index-format.c src/sha1.c src/remote.c src/journal.c src/git-lazy.c \
	src/check.c src/lazy.c src/crypto-lazy.c src/sshsig.c src/sshkey.c src/allowed.c \
	src/sshagent.c src/sign.c src/gpg.c src/verify.c \
	src/lock.c
CLI_SRCS = src/main.c src/cli.c src/cli-commit.c src/cmd-set.c src/cmd-get.c \
	src/cmd-apply.c src/cmd-check.c src/cmd-history.c \
	src/cmd-promote.c src/cmd-rollback.c src/cmd-status.c
LIB_OBJS = $(LIB_SRCS:src/%.c=$(B)/%.o)
CLI_OBJS = $(CLI_SRCS:src/%.c=$(B)/%.o)

TEST_NAMES = test-buf test-grammar test-image test-kust test-diff \
	test-file test-golden test-cli test-corpus test-repo test-apply \
	test-push test-check test-promote test-crash test-matrix test-redact \
	test-sign test-audit \
	test-lock test-worktree test-index-format test-status
TESTS = $(TEST_NAMES:%=$(B)/tests/%)

MANS = $(wildcard man/*.1 man/*.5)

.PHONY: all check check-asan check-valgrind fuzz fuzz-run lint install \
	uninstall clean bench demo deps deb check-deb

all: $(KPIN_BIN) $(LIBKPIN)

$(B)/%.o: src/%.c $(wildcard include/*.h include/kpin/*.h src/*.h) | $(B)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B) $(B)/tests:
	mkdir -p $@

$(LIBKPIN): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(KPIN_BIN): $(CLI_OBJS) $(LIBKPIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIBKPIN) $(KPIN_LIBS)

$(B)/tests/harness.o: tests/harness.c tests/harness.h | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/%.c $(B)/tests/harness.o $(LIBKPIN) tests/harness.h | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ $< \
		$(B)/tests/harness.o $(LIBKPIN) $(DEP_LIBS) $(CMOCKA_LIBS)

# Each test program runs from the top of the tree with KPIN=./kpin.
# The scripts: the docs, the shell completions, the GitHub action and
# example workflows, the README's pre-commit snippet.
TEST_SCRIPTS = tests/doc-sync.sh tests/man-examples.sh tests/completion.sh \
	tests/action.sh tests/workflows.sh tests/pre-commit.sh
check: $(KPIN_BIN) $(TESTS) lint
	@KPIN="$(CURDIR)/$(KPIN_BIN)" TESTDATA="$(CURDIR)/testdata" \
		sh tests/run-tests.sh $(TESTS) $(TEST_SCRIPTS)

# The whole suite against an AddressSanitizer + UBSan build (build/asan).
# Every program links tests/sanitizer-options.c: sanitizer reports go to
# build/asan/log/ (printed at the end; any report fails the run) and
# LeakSanitizer reads tests/lsan.supp. test-crash is left out: a kpin
# killed with SIGKILL reports nothing, and its subject, what a kill
# leaves behind, is the same in both builds. An empty log is no report.
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
ASAN_B = build/asan
check-asan: $(ASAN_B)/sanitizer-options.o
	@rm -rf $(ASAN_B)/log && mkdir -p $(ASAN_B)/log
	@$(MAKE) B=$(ASAN_B) KPIN_BIN=$(ASAN_B)/kpin \
		TEST_NAMES="$(filter-out test-crash,$(TEST_NAMES))" \
		LIBKPIN=$(ASAN_B)/libkpin.a CFLAGS="-O1 -g $(SAN)" \
		LDFLAGS="$(SAN) $(CURDIR)/$(ASAN_B)/sanitizer-options.o" \
		check; rc=$$?; \
	find $(ASAN_B)/log -type f -size 0 -delete; \
	for f in $(ASAN_B)/log/*; do [ -f "$$f" ] || continue; \
		echo "--- $$f"; cat "$$f"; done; \
	n=$$(ls $(ASAN_B)/log | wc -l); \
	echo "sanitizers: $$n report(s) in $(ASAN_B)/log"; \
	[ $$rc -eq 0 ] && [ $$n -eq 0 ]

$(ASAN_B)/sanitizer-options.o: tests/sanitizer-options.c
	@mkdir -p $(ASAN_B)
	$(CC) -c -o $@ -DKPIN_SAN_LOG='"$(CURDIR)/$(ASAN_B)/log"' \
		-DKPIN_LSAN_SUPP='"$(CURDIR)/tests/lsan.supp"' $<

# Memcheck: the library's unit tests in-process, and the tests that run
# the kpin binary with every kpin under valgrind (tests/harness.c,
# KPIN_VALGRIND). Errors and definite leaks fail: valgrind exits 99 and
# its report is kept in $(B)/valgrind/<pid>.log, printed at the end. The
# corpus, HTTP, crash and matrix tests are left to the other runs (the
# matrix's refusals are golden and CLI cases too). tests/valgrind.supp
# holds suppressions for the libraries' own internals, never for kpin.
# Debian's valgrind is a sh script, and dash drops the environment
# variables whose names are not shell names, INPUT_IMAGE-NAME among them:
# valgrind.bin, where it exists, is the program itself.
VG_LOGS = $(B)/valgrind
VALGRIND_PROG = $(shell command -v valgrind.bin 2>/dev/null || echo valgrind)
VALGRIND = $(VALGRIND_PROG) -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --track-fds=no \
	--suppressions=$(CURDIR)/tests/valgrind.supp \
	--log-file=$(CURDIR)/$(VG_LOGS)/%p.log
VG_UNIT = test-buf test-grammar test-image test-kust test-diff test-file \
	test-redact \
	test-lock test-index-format
VG_CLI = test-golden test-cli test-repo test-apply test-check test-promote \
	test-audit \
	test-worktree test-status
check-valgrind: kpin $(TESTS)
	@rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS)
	@TESTDATA="$(CURDIR)/testdata" TEST_WRAP="$(VALGRIND)" \
		sh tests/run-tests.sh $(VG_UNIT:%=$(B)/tests/%); u=$$?; \
	KPIN="$(CURDIR)/kpin" TESTDATA="$(CURDIR)/testdata" \
		KPIN_VALGRIND="$(VALGRIND)" \
		sh tests/run-tests.sh $(VG_CLI:%=$(B)/tests/%); c=$$?; \
	find $(VG_LOGS) -name '*.log' -size 0 -delete; \
	for f in $(VG_LOGS)/*.log; do [ -f "$$f" ] || continue; \
		echo "--- $$f"; cat "$$f"; done; \
	n=$$(ls $(VG_LOGS) | wc -l); \
	echo "valgrind: $$n report(s) in $(VG_LOGS)"; \
	[ $$u -eq 0 ] && [ $$c -eq 0 ] && [ $$n -eq 0 ]

# libFuzzer targets (clang): the edit core, the check rules, requests,
# the index format, the SSH signature and key parsers.
# The library is compiled once with clang, the warnings (errors under
# DEVELOPER=1: CI's clang build), coverage and sanitizers (build/fuzz),
# each target links it. fuzz-run runs each target FUZZ_SECONDS seconds,
# seeded from testdata/; a crash, leak or UB fails it and leaves the input
# in build/fuzz/ (tests/fuzz/run.sh).
FUZZ_TARGETS = fuzz-kust fuzz-check fuzz-request fuzz-index fuzz-sshsig
FUZZ_SECONDS = 60
FUZZ_CC = clang
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-Iinclude $(WARNINGS) $(DEP_CFLAGS) $(FYAML_PIN) $(FUZZ_SAN)
FUZZ_OBJS = $(LIB_SRCS:src/%.c=$(B)/fuzz/%.o)
fuzz: $(FUZZ_TARGETS:%=$(B)/fuzz/%)

$(B)/fuzz:
	mkdir -p $@

$(FUZZ_OBJS): $(B)/fuzz/%.o: src/%.c $(wildcard include/*.h include/kpin/*.h src/*.h) | $(B)/fuzz
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs \
	$(FUZZ_CC): install the Debian packages clang and libclang-rt-dev \
	(or run tools/deps --test)" >&2; exit 1; }
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/libkpin.a: $(FUZZ_OBJS)
	rm -f $@
	$(AR) rcs $@ $(FUZZ_OBJS)

$(FUZZ_TARGETS:%=$(B)/fuzz/%): $(B)/fuzz/%: tests/fuzz/%.c $(B)/fuzz/libkpin.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(B)/fuzz/libkpin.a $(KPIN_LIBS)

fuzz-run: fuzz
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

lint: $(KPIN_BIN) $(LIBKPIN)
	@LIBKPIN="$(LIBKPIN)" sh tests/lint.sh

bench: kpin
	@sh bench/run.sh

demo: kpin
	@sh tools/demo

deps:
	@sh tools/deps

# The Debian package (debian/), built by dpkg-buildpackage in a copy of
# the tree under $(B)/deb, so that neither its build (debian/rules clean
# runs make clean) nor its output (dpkg-buildpackage writes to the parent
# directory) touches the tree; the .deb files are moved into $(B). The
# package's own make must not inherit this one's variables (B=...).
# sh tools/deps --deb installs what it needs.
deb:
	rm -rf $(B)/deb && mkdir -p $(B)/deb/kpin
	tar -cf - --exclude=./build --exclude=./$(B) --exclude=./.git \
		--exclude=./kpin --exclude=./libkpin.a . | \
		tar -xf - -C $(B)/deb/kpin
	cd $(B)/deb/kpin && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -b -us -uc
	mv $(B)/deb/*.deb $(B)/deb/*.buildinfo $(B)/deb/*.changes $(B)/
	@ls $(B)/*.deb

# The package installed into a scratch root (tests/deb.sh: about a
# minute, so outside make check; tools/quickstart check runs it).
check-deb:
	@sh tests/run-tests.sh tests/deb.sh

install: kpin
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	cp kpin $(DESTDIR)$(BINDIR)/kpin
	chmod 755 $(DESTDIR)$(BINDIR)/kpin
	cp src/completion/kpin.bash $(DESTDIR)$(BASHCOMPDIR)/kpin
	cp src/completion/kpin.zsh $(DESTDIR)$(ZSHCOMPDIR)/_kpin
	chmod 644 $(DESTDIR)$(BASHCOMPDIR)/kpin $(DESTDIR)$(ZSHCOMPDIR)/_kpin
	for m in $(MANS); do \
		s=$${m##*.}; cp $$m $(DESTDIR)$(MANDIR)/man$$s/; \
		chmod 644 $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kpin $(DESTDIR)$(BASHCOMPDIR)/kpin \
		$(DESTDIR)$(ZSHCOMPDIR)/_kpin
	for m in $(MANS); do s=$${m##*.}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done

clean:
	rm -rf $(B) kpin libkpin.a
