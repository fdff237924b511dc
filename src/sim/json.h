/* json.h — a tiny JSON object writer for the simulated venue on top of lt_buf and the shared
 * token writers (lt_jw_string / lt_jw_double / lt_jw_int in src/buf.c). Keys are C literals
 * known to need no escaping; every value goes through the shared writers. */
#ifndef LT_SIM_JSON_H
#define LT_SIM_JSON_H

#include <stdbool.h>
#include <string.h>

#include "../codec.h"

#define LT_SIM_LIT(b, s) lt_buf_add((b), (s), sizeof(s) - 1)

typedef struct lt_sim_jo {
	lt_buf *b;
	bool first;
} lt_sim_jo;

static inline void lt_sim_jo_begin(lt_sim_jo *o, lt_buf *b)
{
	o->b = b;
	o->first = true;
	lt_buf_add(b, "{", 1);
}

/* Writes the separator and "key": ; the caller then writes the value. */
static inline void lt_sim_jo_key(lt_sim_jo *o, const char *key)
{
	if (!o->first)
		lt_buf_add(o->b, ",", 1);
	o->first = false;
	lt_buf_add(o->b, "\"", 1);
	lt_buf_add(o->b, key, strlen(key));
	lt_buf_add(o->b, "\":", 2);
}

static inline void lt_sim_jo_str(lt_sim_jo *o, const char *key, const char *v)
{
	lt_sim_jo_key(o, key);
	lt_jw_string(o->b, v, strlen(v));
}

static inline void lt_sim_jo_num(lt_sim_jo *o, const char *key, double v)
{
	lt_sim_jo_key(o, key);
	lt_jw_double(o->b, v);
}

static inline void lt_sim_jo_int(lt_sim_jo *o, const char *key, int64_t v)
{
	lt_sim_jo_key(o, key);
	lt_jw_int(o->b, v);
}

static inline void lt_sim_jo_bool(lt_sim_jo *o, const char *key, bool v)
{
	lt_sim_jo_key(o, key);
	if (v)
		LT_SIM_LIT(o->b, "true");
	else
		LT_SIM_LIT(o->b, "false");
}

static inline void lt_sim_jo_null(lt_sim_jo *o, const char *key)
{
	lt_sim_jo_key(o, key);
	LT_SIM_LIT(o->b, "null");
}

static inline void lt_sim_jo_end(lt_sim_jo *o) { lt_buf_add(o->b, "}", 1); }

#endif
