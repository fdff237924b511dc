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

demo: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/luatrade run strategies/market_maker.lua

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@scripts/run-bench $(BUILD)

# Coverage-guided fuzzing of the venue-message decoder (clang's libFuzzer, with ASan+UBSan).
FUZZ_SECONDS ?= 60
FUZZ_SRC = src/json_decode.c src/json_envelope.c src/json_number.c src/json_utf8.c src/json_arena.c \
	src/json_retype.c src/lua_secret.c src/secret.c src/log.c src/schemas.c src/lt.c src/buf.c
fuzz:
	@scripts/install-deps clang libclang-rt-14-dev
	@mkdir -p $(BUILD)/fuzz/corpus
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
		$(DEP_CFLAGS) -o $(BUILD)/fuzz/envelope_fuzz fuzz/envelope_fuzz.c $(FUZZ_SRC) \
		$(shell $(PKG_CONFIG) --libs lua5.4 yajl openssl) -lm
	cp tests/fixtures/*.json fuzz/seeds/*.json $(BUILD)/fuzz/corpus/
	$(BUILD)/fuzz/envelope_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(BUILD)/fuzz/corpus

install: all
	install -D -m 755 $(BUILD)/luatrade $(DESTDIR)$(PREFIX)/bin/luatrade

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
