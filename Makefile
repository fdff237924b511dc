# luatrade — one entry point: all, test, demo, bench, fuzz, soak, install, uninstall, clean.
# Dependencies come from Debian packages (scripts/install-deps) and are found with pkg-config.

PKG_CONFIG ?= pkg-config
CC ?= cc
BUILD ?= build
CERTDIR ?= build/sim
PREFIX ?= /usr/local
DESTDIR ?=
# Lua's layout (what lua5.4's default package.path/cpath search under /usr/local): the command
# finds its Lua modules at <bindir>/../share/lua/5.4, so keep BINDIR and LUA_DIR siblings.
LUA_V ?= 5.4
BINDIR ?= $(PREFIX)/bin
LUA_LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_V)
LUA_DIR ?= $(PREFIX)/share/lua/$(LUA_V)
DOCDIR ?= $(PREFIX)/share/doc/luatrade
SAN ?=

PKGS = lua5.4 libwebsockets yajl openssl
# wslay (WebSocket frames, src/ws.c): Debian's libwslay-dev ships no libwslay.pc, so pkg-config
# is asked first and -lwslay (headers in /usr/include/wslay) is the fallback.
WSLAY_CFLAGS = $(shell $(PKG_CONFIG) --silence-errors --cflags libwslay)
WSLAY_LIBS = $(shell $(PKG_CONFIG) --silence-errors --libs libwslay || echo -lwslay)
DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS)) $(WSLAY_CFLAGS)
DEP_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) $(WSLAY_LIBS) -lm
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka)

WARN = -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Werror
OPT ?= -O2 -g
ifeq ($(SAN),1)
OPT = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_LDFLAGS = -fsanitize=address,undefined
endif
CFLAGS ?=
# Hidden by default: luatrade.so exports luaopen_* only (LT_EXPORT in lua_core.c), the command
# nothing; tests and benchmarks link the static library, which is unaffected.
VISIBILITY = -fvisibility=hidden
# No path of the checkout is compiled into the command or the module (src/paths.c finds the
# Lua directory and the certificates at run time; the prefix map keeps it out of the debug info).
# Only the test binaries, never installed, get the absolute certificate directory.
LT_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(VISIBILITY) -fPIC -MMD -MP \
	-ffile-prefix-map=$(CURDIR)=. $(DEP_CFLAGS)
TEST_DEFS = -DLT_CERT_DIR='"$(abspath $(CERTDIR))"' -DLT_FIXTURES='"$(abspath tests/fixtures)"'

LIB_SRC = $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard src/methods/*.c) $(wildcard src/sim/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ = $(BUILD)/obj/src/main.o
UNIT_SRC = $(wildcard tests/*_test.c) $(wildcard tests/methods/*_test.c) $(wildcard tests/integration/*_test.c)
UNIT_BIN = $(UNIT_SRC:%.c=$(BUILD)/%)
TEST_SUPPORT = $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ = $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:%.c=$(BUILD)/%)

.PHONY: all deps test unit-tests demo bench fuzz soak clean install certs

# Every build step waits for `deps` (order-only: it never forces a rebuild); the pkg-config
# variables above are expanded only when a recipe runs, so a fresh machine builds in one go.
all: deps $(BUILD)/luatrade $(BUILD)/luatrade.so $(UNIT_BIN) certs

# The command and the module only: what `make install`, the demo and the rockspec need.
programs: $(BUILD)/luatrade $(BUILD)/luatrade.so

deps:
	@scripts/install-deps

certs: $(CERTDIR)/server.pem

$(CERTDIR)/server.pem: scripts/gen-cert | deps
	@scripts/gen-cert $(CERTDIR)

$(BUILD)/libluatrade.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/luatrade: $(MAIN_OBJ) $(BUILD)/libluatrade.a
	$(CC) $(OPT) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(BUILD)/luatrade.so: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared $(OPT) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(filter-out -llua5.4,$(DEP_LIBS))

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(LT_CFLAGS) $(CPPFLAGS) $(CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(BUILD)/libluatrade.a $(TEST_SUPPORT_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LT_CFLAGS) $(TEST_DEFS) $(CPPFLAGS) $(CFLAGS) -Isrc -Itests \
		$(SAN_LDFLAGS) $(LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJ) $(BUILD)/libluatrade.a $(DEP_LIBS) $(CMOCKA_LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libluatrade.a
	@mkdir -p $(@D)
	$(CC) $(LT_CFLAGS) $(CPPFLAGS) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libluatrade.a $(DEP_LIBS)

# The README's test command: installs what is missing, builds a plain and a sanitizer copy,
# runs C unit tests, integration tests and busted specs in both; ends with "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 all
	@scripts/run-tests build build/asan

demo: programs certs
	./$(BUILD)/luatrade run strategies/market_maker.lua

# Lua's conventions: the command in BINDIR, the C module as luatrade/core.so under LUA_LIBDIR
# (require "luatrade.core" finds it by the standard cpath), the Lua modules under LUA_DIR, the
# README and example strategies under DOCDIR. Honours DESTDIR; the rockspec sets the dirs.
LUA_FILES = $(wildcard lua/luatrade/*.lua)
EXAMPLES = $(wildcard strategies/*.lua)
.PHONY: programs uninstall
install: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LUA_LIBDIR)/luatrade $(DESTDIR)$(LUA_DIR)/luatrade \
		$(DESTDIR)$(DOCDIR)/strategies
	install -m 755 $(BUILD)/luatrade $(DESTDIR)$(BINDIR)/luatrade
	install -m 755 $(BUILD)/luatrade.so $(DESTDIR)$(LUA_LIBDIR)/luatrade/core.so
	install -m 644 $(LUA_FILES) $(DESTDIR)$(LUA_DIR)/luatrade/
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/strategies/
	install -m 644 contrib/luatrade@.service $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/luatrade $(DESTDIR)$(LUA_LIBDIR)/luatrade/core.so \
		$(addprefix $(DESTDIR)$(LUA_DIR)/luatrade/,$(notdir $(LUA_FILES))) \
		$(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/luatrade@.service $(addprefix $(DESTDIR)$(DOCDIR)/strategies/,$(notdir $(EXAMPLES)))
	rmdir $(DESTDIR)$(LUA_LIBDIR)/luatrade $(DESTDIR)$(LUA_DIR)/luatrade \
		$(DESTDIR)$(DOCDIR)/strategies $(DESTDIR)$(DOCDIR) 2>/dev/null || true

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@scripts/run-bench $(BUILD)

# Coverage-guided fuzzing (clang's libFuzzer, with ASan+UBSan): one binary per fuzz/*_fuzz.c,
# linked against a clang-built copy of the library and tests/support; each runs FUZZ_SECONDS
# on its corpus (seeded from fuzz/seeds/<target>/ and, for envelope_fuzz, tests/fixtures) with
# fuzz/deribit.dict. scripts/run-fuzz prints the runs and findings per target; the exit status
# is non-zero if any target found a crash (kept under $(BUILD)/fuzz/findings/<target>/).
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_JOBS ?= 2
FUZZ_TARGETS = $(patsubst fuzz/%.c,%,$(wildcard fuzz/*_fuzz.c))
FUZZ_DIR = $(BUILD)/fuzz
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -Wall -Wextra \
	-DLT_CERT_DIR='"$(abspath $(CERTDIR))"' -DLT_LUA_DIR='"$(abspath lua)"' \
	-DLT_FIXTURES='"$(abspath tests/fixtures)"' -Isrc -Itests $(DEP_CFLAGS)
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(TEST_SUPPORT:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BIN = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
.PHONY: fuzz-build fuzz-ci
fuzz:
	@scripts/install-deps clang libclang-rt-14-dev
	@$(MAKE) --no-print-directory certs
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) fuzz-build
	@scripts/run-fuzz $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

fuzz-build: $(FUZZ_BIN)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libluatrade.a: $(FUZZ_LIB_OBJ)
	$(AR) rcs $@ $^

$(FUZZ_DIR)/%_fuzz: fuzz/%_fuzz.c $(FUZZ_DIR)/libluatrade.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libluatrade.a \
		$(DEP_LIBS) $(CMOCKA_LIBS)

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)

# The fault-injection soak (issue 11; scripts/soak, soak/driver.lua): strategies/market_maker.lua
# through `luatrade run` against the built-in venue for SOAK_SECONDS (default 600) while faults
# are injected; prints the figures and fails if a check is off. `make soak SAN=1` (or
# BUILD=build/asan) runs the venue and the strategy on the instrumented build in build/asan and
# fails on any ASan/LSan/UBSan report; the driver itself always uses the plain build.
SOAK_SECONDS ?= 600
SOAK_BUILD = $(if $(filter 1,$(SAN)),$(if $(filter build,$(BUILD)),build/asan,$(BUILD)),$(BUILD))
soak: deps
	@$(MAKE) --no-print-directory BUILD=build SAN= programs certs
	@$(if $(filter build,$(SOAK_BUILD)),true,$(MAKE) --no-print-directory BUILD=$(SOAK_BUILD) \
		SAN=$(if $(filter build/asan,$(SOAK_BUILD)),1,$(SAN)) programs)
	@SOAK_SECONDS=$(SOAK_SECONDS) BUILD=$(SOAK_BUILD) scripts/soak

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
