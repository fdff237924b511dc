# luatrade — one entry point: all, test, demo, bench, fuzz, clean.
# Dependencies come from Debian packages (scripts/install-deps) and are found with pkg-config.

PKG_CONFIG ?= pkg-config
CC ?= cc
BUILD ?= build
CERTDIR ?= build/sim
PREFIX ?= /usr/local
DESTDIR ?=
SAN ?=

PKGS = lua5.4 libwebsockets yajl openssl
DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
DEP_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lm
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka)

WARN = -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Werror
OPT ?= -O2 -g
ifeq ($(SAN),1)
OPT = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_LDFLAGS = -fsanitize=address,undefined
endif
CFLAGS ?=
# Hidden by default: luatrade.so exports luaopen_* only (LT_EXPORT in lua_core.c), the command
# nothing; tests and benchmarks link the static library, which is unaffected.
VISIBILITY = -fvisibility=hidden
LT_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(VISIBILITY) -fPIC -MMD -MP \
	-DLT_CERT_DIR='"$(abspath $(CERTDIR))"' -DLT_LUA_DIR='"$(abspath lua)"' $(DEP_CFLAGS)

LIB_SRC = $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard src/methods/*.c) $(wildcard src/sim/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ = $(BUILD)/obj/src/main.o
UNIT_SRC = $(wildcard tests/*_test.c) $(wildcard tests/methods/*_test.c) $(wildcard tests/integration/*_test.c)
UNIT_BIN = $(UNIT_SRC:%.c=$(BUILD)/%)
TEST_SUPPORT = $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ = $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:%.c=$(BUILD)/%)

.PHONY: all deps test unit-tests demo bench fuzz clean install certs

all: $(BUILD)/luatrade $(BUILD)/luatrade.so $(UNIT_BIN) certs

deps:
	@scripts/install-deps

certs: $(CERTDIR)/server.pem

$(CERTDIR)/server.pem: scripts/gen-cert
	@scripts/gen-cert $(CERTDIR)

$(BUILD)/libluatrade.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/luatrade: $(MAIN_OBJ) $(BUILD)/libluatrade.a
	$(CC) $(OPT) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(BUILD)/luatrade.so: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared $(OPT) $(SAN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(filter-out -llua5.4,$(DEP_LIBS))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(LT_CFLAGS) $(CPPFLAGS) $(CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(BUILD)/libluatrade.a $(TEST_SUPPORT_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LT_CFLAGS) $(CPPFLAGS) $(CFLAGS) -Isrc -Itests -DLT_FIXTURES='"$(abspath tests/fixtures)"' \
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

demo: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/luatrade run strategies/market_maker.lua

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

install: all
	install -D -m 755 $(BUILD)/luatrade $(DESTDIR)$(PREFIX)/bin/luatrade

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
