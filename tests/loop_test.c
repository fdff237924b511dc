/* loop_test.c — src/loop.c: the loop's life (new, free, free(NULL)), client vhosts per CA file
 * (reused for the same file, one per other file, LT_ETLS for a file that cannot be read or holds
 * no certificate), lt_loop_wake ending a blocked lt_loop_service (called before the service,
 * from a timer running inside it, from another thread), and the two clocks.
 *
 * Timing: every service runs with a guard timer (an lws_sul a few seconds out) so a broken wake
 * costs seconds, never a hung test. The wake tests first show that the settled loop really
 * blocks until its next timer (otherwise a quick return would prove nothing), then require the
 * woken service to return well before the guard: bounds are generous for a loaded 2-core
 * machine under ASan.
 *
 * Watched descriptors (lt_loop_watch_fd): a pipe's read end is polled by the loop itself (data
 * makes a blocked service call on_readable); unwatching stops that at once and closes the
 * duplicate the loop polled, leaving the caller's descriptor open; freeing the loop with a watch
 * still on clears the owner's handle and closes the duplicate too (counted in /proc/self/fd).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "support/fds.h"

#ifndef LT_CERT_DIR
#define LT_CERT_DIR "build/sim"
#endif

#define MS 1000
#define S (1000 * MS)

/* ---- fixture: one loop per test ------------------------------------------------------------ */

static int setup(void **state)
{
	lt_loop *loop = NULL;
	lt_err err = {0, ""};
	if (lt_loop_new(&loop, &err)) {
		fprintf(stderr, "lt_loop_new: %s\n", err.msg);
		return -1;
	}
	*state = loop;
	return 0;
}

static int teardown(void **state)
{
	lt_loop_free(*state);
	return 0;
}

/* A timer on the loop's context: counts its firings and, if asked, wakes the loop. */
typedef struct timer {
	lws_sorted_usec_list_t sul;
	lt_loop *loop;
	bool wake;
	int fired;
	int64_t fired_at;
} timer;

static void timer_cb(lws_sorted_usec_list_t *sul)
{
	timer *t = lws_container_of(sul, timer, sul);
	t->fired++;
	t->fired_at = lt_now_us();
	if (t->wake)
		lt_loop_wake(t->loop);
}

static void timer_start(timer *t, lt_loop *loop, int64_t us, bool wake)
{
	memset(t, 0, sizeof *t);
	t->loop = loop;
	t->wake = wake;
	lws_sul_schedule(lt_loop_context(loop), 0, &t->sul, timer_cb, (lws_usec_t)us);
}

static void timer_stop(timer *t) { lws_sul_cancel(&t->sul); }

/* One lt_loop_service with a guard timer guard_us out; returns how long it took. */
static int64_t service_timed(lt_loop *loop, int64_t guard_us)
{
	timer guard;
	timer_start(&guard, loop, guard_us, false);
	int64_t t0 = lt_now_us();
	assert_int_equal(lt_loop_service(loop), 0);
	int64_t took = lt_now_us() - t0;
	timer_stop(&guard);
	return took;
}

/* Service until t has fired or for at most limit_us. (A poll may end a little before a timer
 * is due, libwebsockets rounding to milliseconds: then a few quick services follow.) */
static void service_until_fired(lt_loop *loop, timer *t, int64_t limit_us)
{
	int64_t end = lt_now_us() + limit_us;
	while (!t->fired && lt_now_us() < end)
		assert_int_equal(lt_loop_service(loop), 0);
}

/* Consume whatever a fresh context handles at once, until a service blocks for (most of) its
 * guard: from then on nothing but our timers and wakes ends a service. */
static void settle(lt_loop *loop)
{
	for (int i = 0; i < 20; i++)
		if (service_timed(loop, 200 * MS) >= 150 * MS)
			return;
	fail_msg("the loop never blocked: every service returned at once");
}

/* ---- life ------------------------------------------------------------------------------------ */

static void test_new_makes_a_context_and_free_accepts_null(void **state)
{
	lt_loop *loop = *state;
	assert_non_null(lt_loop_context(loop));
	assert_non_null(lt_loop_conn_count(loop));
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(NULL);

	lt_loop *other = (lt_loop *)&other; /* set to NULL on entry, then to the new loop */
	lt_err err = {0, ""};
	assert_int_equal(lt_loop_new(&other, &err), 0);
	assert_non_null(other);
	assert_ptr_not_equal(other, loop);
	assert_ptr_not_equal(lt_loop_context(other), lt_loop_context(loop));
	assert_int_equal(err.code, 0);
	lt_loop_free(other);
}

/* Freeing a loop that has vhosts and has serviced is clean (ASan checks the leaks). */
static void test_free_releases_a_loop_with_vhosts(void **state)
{
	(void)state;
	lt_loop *loop;
	lt_err err = {0, ""};
	assert_int_equal(lt_loop_new(&loop, &err), 0);
	assert_non_null(lt_loop_client_vhost(loop, LT_CERT_DIR "/ca.pem", &err));
	assert_non_null(lt_loop_client_vhost(loop, NULL, &err));
	assert_int_equal(lt_loop_service(loop), 0);
	lt_loop_free(loop);
}

/* ---- client vhosts --------------------------------------------------------------------------- */

static void test_the_same_ca_file_gives_the_same_vhost(void **state)
{
	lt_loop *loop = *state;
	lt_err err = {0, ""};
	struct lws_vhost *a = lt_loop_client_vhost(loop, LT_CERT_DIR "/ca.pem", &err);
	assert_non_null(a);
	char *copy = strdup(LT_CERT_DIR "/ca.pem"); /* the same name in another buffer */
	assert_non_null(copy);
	assert_ptr_equal(lt_loop_client_vhost(loop, copy, &err), a);
	free(copy);
	assert_ptr_equal(lt_loop_client_vhost(loop, LT_CERT_DIR "/ca.pem", &err), a);
	assert_int_equal(err.code, 0);
}

static void test_another_ca_file_or_the_system_store_gets_its_own_vhost(void **state)
{
	lt_loop *loop = *state;
	lt_err err = {0, ""};
	struct lws_vhost *ca = lt_loop_client_vhost(loop, LT_CERT_DIR "/ca.pem", &err);
	struct lws_vhost *srv = lt_loop_client_vhost(loop, LT_CERT_DIR "/server.pem", &err);
	struct lws_vhost *sys = lt_loop_client_vhost(loop, NULL, &err);
	assert_non_null(ca);
	assert_non_null(srv);
	assert_non_null(sys);
	assert_ptr_not_equal(ca, srv);
	assert_ptr_not_equal(ca, sys);
	assert_ptr_not_equal(srv, sys);
	/* each is still found again afterwards, in any order */
	assert_ptr_equal(lt_loop_client_vhost(loop, NULL, &err), sys);
	assert_ptr_equal(lt_loop_client_vhost(loop, LT_CERT_DIR "/server.pem", &err), srv);
	assert_ptr_equal(lt_loop_client_vhost(loop, LT_CERT_DIR "/ca.pem", &err), ca);
	assert_int_equal(err.code, 0);
}

static void test_an_unreadable_ca_file_is_lt_etls_and_not_remembered(void **state)
{
	lt_loop *loop = *state;
	lt_err err = {0, ""};
	const char *missing = LT_CERT_DIR "/no-such-ca.pem";
	assert_null(lt_loop_client_vhost(loop, missing, &err));
	assert_int_equal(err.code, LT_ETLS);
	assert_non_null(strstr(err.msg, missing)); /* the message names the file */
	/* the failure is not cached as a vhost, and it does not spoil the next good one */
	lt_err again = {0, ""};
	assert_null(lt_loop_client_vhost(loop, missing, &again));
	assert_int_equal(again.code, LT_ETLS);
	lt_err ok = {0, ""};
	assert_non_null(lt_loop_client_vhost(loop, LT_CERT_DIR "/ca.pem", &ok));
	assert_int_equal(ok.code, 0);
}

/* Regression (loop.c lt_loop_client_vhost, fixed): a CA file that can be read but holds no certificate
 * (/dev/null, a JSON file, a private key) is accepted: libwebsockets only logs "Unable to load
 * SSL Client certs file ... client ssl isn't going to work" and still creates the vhost, so the
 * "(missing or not PEM?)" LT_ETLS branch never runs for it. Every connection then fails later
 * with "certificate not trusted ... pass ca_file for a self-signed venue" although a ca_file
 * was passed. Expected: LT_ETLS at once, naming the file. */
static void test_a_readable_ca_file_without_a_certificate_is_lt_etls(void **state)
{
	lt_loop *loop = *state;
	static const char *const bad[] = {"/dev/null", LT_CERT_DIR "/server.key"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		lt_err err = {0, ""};
		struct lws_vhost *vh = lt_loop_client_vhost(loop, bad[i], &err);
		if (vh || err.code != LT_ETLS)
			fail_msg("ca_file %s: got vhost %p, code %d; expected NULL and LT_ETLS",
				 bad[i], (void *)vh, err.code);
		assert_non_null(strstr(err.msg, bad[i]));
	}
}

/* ---- wake ------------------------------------------------------------------------------------ */

/* The baseline the wake tests stand on: a settled loop with nothing to do blocks until its next
 * timer. */
static void test_a_service_with_nothing_to_do_blocks_until_the_next_timer(void **state)
{
	lt_loop *loop = *state;
	settle(loop);
	int64_t took = service_timed(loop, 300 * MS);
	if (took < 250 * MS)
		fail_msg("service returned after %lld us with nothing to do", (long long)took);
}

static void test_a_wake_before_service_makes_it_return_at_once(void **state)
{
	lt_loop *loop = *state;
	settle(loop);
	lt_loop_wake(loop);
	int64_t took = service_timed(loop, 5 * S);
	if (took > 1 * S)
		fail_msg("woken service took %lld us", (long long)took);
	/* the wake is used up: the next service blocks again */
	took = service_timed(loop, 300 * MS);
	if (took < 250 * MS)
		fail_msg("a second service returned after %lld us: the wake stuck",
			 (long long)took);
}

/* Several wakes before one service are one wake (a pipe, not a counter that must be drained
 * by as many services). */
static void test_many_wakes_end_one_service(void **state)
{
	lt_loop *loop = *state;
	settle(loop);
	for (int i = 0; i < 100; i++)
		lt_loop_wake(loop);
	assert_true(service_timed(loop, 5 * S) < 1 * S);
	int64_t took = service_timed(loop, 300 * MS);
	if (took < 250 * MS)
		fail_msg("after 100 wakes a second service returned in %lld us", (long long)took);
}

/* What lt_task_sleep relies on: a timer callback runs inside the service just before it polls;
 * waking there ends that very poll instead of letting it block until the next timer. */
static void test_a_wake_from_a_timer_ends_the_service_it_runs_in(void **state)
{
	lt_loop *loop = *state;
	settle(loop);
	timer guard, t;
	timer_start(&guard, loop, 5 * S, false);
	timer_start(&t, loop, 50 * MS, true);
	int64_t t0 = lt_now_us();
	service_until_fired(loop, &t, 3 * S);
	int64_t took = lt_now_us() - t0;
	int64_t after_fire = lt_now_us() - t.fired_at;
	bool guard_fired = guard.fired;
	timer_stop(&guard);
	timer_stop(&t);
	assert_int_equal(t.fired, 1);
	assert_false(guard_fired);
	assert_true(took >= 50 * MS);
	if (after_fire > 1 * S)
		fail_msg("the service went on %lld us after the timer woke it",
			 (long long)after_fire);
}

/* The same timer without the wake: the service it runs in goes on polling until the next timer.
 * (Shows the previous test is not passing by accident.) */
static void test_a_timer_without_a_wake_leaves_the_service_blocked(void **state)
{
	lt_loop *loop = *state;
	settle(loop);
	timer guard, t;
	timer_start(&guard, loop, 600 * MS, false);
	timer_start(&t, loop, 50 * MS, false);
	service_until_fired(loop, &t, 3 * S);
	int64_t after_fire = lt_now_us() - t.fired_at;
	timer_stop(&guard);
	timer_stop(&t);
	assert_int_equal(t.fired, 1);
	if (after_fire < 300 * MS)
		fail_msg("the service returned %lld us after a timer that did not wake it",
			 (long long)after_fire);
}

typedef struct waker {
	lt_loop *loop;
	int64_t delay_us;
	int64_t woke_at;
} waker;

static void *waker_main(void *arg)
{
	waker *w = arg;
	struct timespec ts = {(time_t)(w->delay_us / S), (long)(w->delay_us % S) * 1000};
	nanosleep(&ts, NULL);
	w->woke_at = lt_now_us();
	lt_loop_wake(w->loop);
	return NULL;
}

/* lt_loop_wake from another thread (the signal handler's case: not the loop's own code) ends
 * a service that is already blocked. */
static void test_a_wake_from_another_thread_ends_a_blocked_service(void **state)
{
	lt_loop *loop = *state;
	settle(loop);
	waker w = {loop, 100 * MS, 0};
	pthread_t th;
	int64_t t0 = lt_now_us();
	assert_int_equal(pthread_create(&th, NULL, waker_main, &w), 0);
	timer guard;
	timer_start(&guard, loop, 5 * S, false);
	assert_int_equal(lt_loop_service(loop), 0);
	int64_t took = lt_now_us() - t0;
	bool guard_fired = guard.fired;
	timer_stop(&guard);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_false(guard_fired);
	if (took < 90 * MS)
		fail_msg("service returned after %lld us, before the wake", (long long)took);
	if (took > 2 * S)
		fail_msg("service returned %lld us after the start, the wake came at 100 ms",
			 (long long)took);
}

/* ---- watched descriptors ------------------------------------------------------------------- */

typedef struct reader {
	int fd;
	int calls;
	size_t bytes;
} reader;

static void on_readable(void *arg)
{
	reader *r = arg;
	char buf[64];
	ssize_t n;
	r->calls++;
	while ((n = read(r->fd, buf, sizeof buf)) > 0)
		r->bytes += (size_t)n;
}

static void make_pipe(int p[2]) { assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0); }

/* Data on a watched fd ends a blocked service and reaches on_readable; unwatching stops that,
 * closes the loop's duplicate and leaves ours open. */
static void test_a_watched_fd_is_polled_by_the_service_until_unwatched(void **state)
{
	lt_loop *loop = *state;
	settle(loop);
	int p[2];
	make_pipe(p);
	int before = lt_test_open_fds();
	reader r = {p[0], 0, 0};
	struct lws *wsi = NULL;
	lt_err err = {0, ""};
	assert_int_equal(lt_loop_watch_fd(loop, p[0], on_readable, &r, &wsi, &err), 0);
	assert_non_null(wsi);
	assert_int_equal(lt_test_open_fds(), before + 1); /* the duplicate */
	settle(loop); /* the adoption woke the loop; then, with nothing to read, it blocks */
	assert_int_equal(r.calls, 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	int64_t took = 0;
	for (int i = 0; i < 5 && !r.calls; i++)
		took += service_timed(loop, 5 * S);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.bytes, 3);
	if (took > 1 * S)
		fail_msg("data on the fd ended the service after %lld us", (long long)took);

	lt_loop_unwatch_fd(&wsi);
	assert_null(wsi);
	assert_int_equal(lt_test_open_fds(), before);
	lt_loop_unwatch_fd(&wsi); /* again: nothing */
	assert_int_equal(write(p[1], "de", 2), 2);
	assert_true(service_timed(loop, 300 * MS) >= 250 * MS);
	assert_int_equal(r.calls, 1);
	on_readable(&r); /* our descriptor is still open and still ours */
	assert_int_equal(r.bytes, 5);
	close(p[0]);
	close(p[1]);
}

/* lt_loop_free with a watch still on: the owner's handle becomes NULL, the duplicate is closed
 * once (ASan: nothing leaks or is used after free), our descriptor stays open. */
static void test_freeing_the_loop_ends_a_watch_still_on(void **state)
{
	(void)state;
	int p[2];
	make_pipe(p);
	int before = lt_test_open_fds(); /* the loop's own descriptors come and go with it */
	lt_loop *loop;
	lt_err err = {0, ""};
	assert_int_equal(lt_loop_new(&loop, &err), 0);
	int with_loop = lt_test_open_fds();
	reader r = {p[0], 0, 0};
	struct lws *a = NULL, *b = NULL;
	assert_int_equal(lt_loop_watch_fd(loop, p[0], on_readable, &r, &a, &err), 0);
	assert_int_equal(lt_loop_watch_fd(loop, p[0], on_readable, &r, &b, &err), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(lt_test_open_fds(), with_loop + 2);
	assert_int_equal(lt_loop_service(loop), 0);
	lt_loop_free(loop);
	assert_null(a);
	assert_null(b);
	assert_int_equal(lt_test_open_fds(), before);
	assert_int_equal(fcntl(p[0], F_GETFD), FD_CLOEXEC);
	close(p[0]);
	close(p[1]);
}

/* ---- clocks ---------------------------------------------------------------------------------- */

static void test_now_us_never_goes_back_and_follows_a_sleep(void **state)
{
	(void)state;
	int64_t prev = lt_now_us();
	assert_true(prev > 0);
	for (int i = 0; i < 100000; i++) {
		int64_t now = lt_now_us();
		if (now < prev)
			fail_msg("lt_now_us went back from %lld to %lld", (long long)prev,
				 (long long)now);
		prev = now;
	}
	int64_t t0 = lt_now_us();
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	int64_t d = lt_now_us() - t0;
	assert_true(d >= 20 * MS);
	assert_true(d < 2 * S);
}

static void test_wall_ms_is_the_epoch_time_in_milliseconds(void **state)
{
	(void)state;
	int64_t before = (int64_t)time(NULL) * 1000;
	int64_t wall = lt_wall_ms();
	int64_t after = (int64_t)time(NULL) * 1000;
	/* time() truncates to the second: wall lies in [before, after + 1 s) */
	assert_true(wall >= before);
	assert_true(wall < after + 1000);
	assert_true(wall > (int64_t)1600000000 * 1000); /* milliseconds, not seconds or us */
	/* and it advances like the monotonic clock over a short sleep */
	int64_t m0 = lt_now_us(), w0 = lt_wall_ms();
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
	int64_t dm = (lt_now_us() - m0) / 1000, dw = lt_wall_ms() - w0;
	assert_true(dw >= 40);
	assert_true(llabs(dw - dm) < 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_makes_a_context_and_free_accepts_null,
						setup, teardown),
		cmocka_unit_test(test_free_releases_a_loop_with_vhosts),
		cmocka_unit_test_setup_teardown(test_the_same_ca_file_gives_the_same_vhost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_another_ca_file_or_the_system_store_gets_its_own_vhost, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_an_unreadable_ca_file_is_lt_etls_and_not_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_readable_ca_file_without_a_certificate_is_lt_etls, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_service_with_nothing_to_do_blocks_until_the_next_timer, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_a_wake_before_service_makes_it_return_at_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_wakes_end_one_service, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_wake_from_a_timer_ends_the_service_it_runs_in, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_timer_without_a_wake_leaves_the_service_blocked, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_wake_from_another_thread_ends_a_blocked_service, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_watched_fd_is_polled_by_the_service_until_unwatched, setup,
			teardown),
		cmocka_unit_test(test_freeing_the_loop_ends_a_watch_still_on),
		cmocka_unit_test(test_now_us_never_goes_back_and_follows_a_sleep),
		cmocka_unit_test(test_wall_ms_is_the_epoch_time_in_milliseconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
