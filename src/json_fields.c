/* json_fields.c — projections: the set of keys a decode keeps (codec.h: lt_fields,
 * LT_T_ONLY). json_decode.c skips the other keys of a projected object without making Lua
 * values of them; this file builds the set and answers "is this key kept?".
 */
#include <stdio.h>
#include <string.h>

#include "json_decode_internal.h"

/* Contract in codec.h. */
void lt_fields_init(lt_fields *f)
{
	f->n = 0;
	f->list[0] = (lt_field){NULL, NULL};
}

/* Contract in codec.h. */
int lt_fields_add(lt_fields *f, const char *name, size_t len, lt_err *err)
{
	if (len == 0)
		return lt_err_set(err, LT_EINVAL, "field names must not be empty");
	if (len > LT_FIELD_NAME_MAX || memchr(name, '\0', len))
		return lt_err_set(err, LT_EINVAL,
				  "field name '%.20s...' is longer than %d bytes or "
				  "holds a NUL",
				  name, LT_FIELD_NAME_MAX);
	lt_schema proj = lt_fields_schema(f, NULL);
	if (lt_jd_kept(&proj, name, len, NULL))
		return lt_err_set(err, LT_EINVAL, "field '%.*s' is listed twice", (int)len, name);
	if (f->n == LT_FIELDS_MAX)
		return lt_err_set(err, LT_EINVAL, "more than %d field names", LT_FIELDS_MAX);
	char *dst = f->text + (size_t)f->n * (LT_FIELD_NAME_MAX + 1);
	memcpy(dst, name, len);
	dst[len] = '\0';
	f->list[f->n++] = (lt_field){dst, NULL};
	f->list[f->n] = (lt_field){NULL, NULL};
	return 0;
}

/* Contract in codec.h. */
bool lt_fields_has(const lt_fields *f, const char *name)
{
	lt_schema proj = lt_fields_schema(f, NULL);
	return lt_jd_kept(&proj, name, strlen(name), NULL);
}

/* Contract in codec.h. */
lt_schema lt_fields_schema(const lt_fields *f, const lt_schema *schema)
{
	return (lt_schema){LT_T_ONLY, f->list, schema, f->n};
}

/* Contract in json_decode_internal.h. */
bool lt_jd_kept(const lt_schema *only, const char *key, size_t len, int *hint)
{
	int n = only->nfields, h = hint ? *hint : 0;
	for (int k = 0; k < n; k++) {
		int i = (h + k) % n;
		if (lt_jd_key_eq(only->fields[i].name, key, len)) {
			if (hint)
				*hint = i + 1 < n ? i + 1 : 0;
			return true;
		}
	}
	return false;
}
