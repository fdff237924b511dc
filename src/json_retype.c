/* json_retype.c — the schema of an envelope payload that comes before its id or channel
 * (json_decode_internal.h; codec.h: "the outcome does not depend on key order").
 *
 * A response's result is typed by its id, a notification's params.data by params.channel.
 * When the selector comes first, as the venue sends it, json_envelope.c asks the resolver and
 * the payload is decoded with its schema in the one pass. When the payload comes first, it is
 * not decoded as ANY and retyped later: a token (LT_T_SECRET) would exist as a Lua string in
 * between, and nothing can cleanse the Lua heap. Instead the first pass skips the value
 * (nothing is pushed, no Lua string made) and notes that it did; if the whole message then
 * parses and names the selector, lt_json_decode_envelope runs a second pass with the selector
 * known from the first (lt_jd_known), and there the payload is decoded with its schema. A
 * malformed or truncated message, or one without the selector, fails in the first pass, so its
 * payload is never decoded at all. Only out-of-order messages are parsed twice.
 */
#include "json_decode_internal.h"

/* Contract in json_decode_internal.h. */
bool lt_jretype_select(lt_jd *d, lt_jd_frame *f)
{
	const lt_resolver *r = d->res;
	const lt_jd_known *k = d->known;
	if (!k)
		return false; /* first pass: defer */
	if (f->slot == JS_RESULT && k->has_id && r && r->result)
		f->next = r->result(r->ud, k->id);
	else if (f->slot == JS_DATA && k->has_channel && r && r->data)
		f->next = r->data(r->ud, k->channel, k->chan_len);
	return true; /* (a selector the first pass did not find: ANY; it runs no second pass then) */
}
