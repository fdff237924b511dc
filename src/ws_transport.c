/* ws_transport.c — lt_ws_transport: ws.c's connection as the transport under a client
 * (client.h); tests put a fake transport in its place. */
#include "client.h"

static int ws_open(lt_loop *loop, const lt_ws_opts *o, const lt_ws_cbs *cbs, void *ud, void **out,
		   lt_err *err)
{
	lt_ws *ws;
	int rc = lt_ws_new(loop, o, cbs, ud, &ws, err);
	*out = rc ? NULL : ws;
	return rc;
}

static int ws_send(void *t, lt_buf *msg) { return lt_ws_send(t, msg); }
static void ws_close(void *t) { lt_ws_close(t); }
static void ws_hold_off(void *t, int ms) { lt_ws_hold_off(t, ms); }
static void ws_set_ready(void *t) { lt_ws_set_ready(t); }

const lt_transport lt_ws_transport = {ws_open, ws_send, ws_close, ws_hold_off, ws_set_ready};
