/* sim_restart_test.c — the venue as a process (`luatrade sim`, src/sim/cli.c, run here by
 * lt_sim_main in a forked child): killed with SIGKILL while clients are connected, it starts
 * again on the same port at once (SO_REUSEADDR: the old connections' TIME_WAIT does not block
 * the bind); SIGTERM ends it with status 0 and closes its connections; a second venue on a busy
 * port exits 1 with "cannot listen" (what a spec helper retries on); and the venue listens on its
 * address only (an IPv4 iface is not widened to every interface), with SO_REUSEADDR set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim_wire.h"

int lt_sim_main(int argc, char **argv); /* src/sim/cli.c */

typedef struct venue {
	pid_t pid;
	int out;         /* the child's stdout and stderr */
	char text[4096]; /* what it printed so far */
	size_t len;
} venue;

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t n = sizeof sa;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &n), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void venue_start(venue *v, int port)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	memset(v, 0, sizeof *v);
	v->pid = fork();
	assert_true(v->pid >= 0);
	if (v->pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		char port_s[16];
		snprintf(port_s, sizeof port_s, "%d", port);
		char *argv[] = {"sim", "--port", port_s, "--account", "alice:sa", NULL};
		_exit(lt_sim_main(5, argv));
	}
	close(p[1]);
	v->out = p[0];
}

/* Read its output until want appears, EOF, or ms pass; true if want appeared. */
static bool venue_says(venue *v, const char *want, int ms)
{
	int64_t end = wire_ms() + ms;
	while (!strstr(v->text, want) && wire_ms() < end) {
		struct pollfd pf = {.fd = v->out, .events = POLLIN};
		if (poll(&pf, 1, 20) <= 0)
			continue;
		ssize_t n = read(v->out, v->text + v->len, sizeof v->text - 1 - v->len);
		if (n <= 0)
			break;
		v->len += (size_t)n;
		v->text[v->len] = '\0';
	}
	return strstr(v->text, want) != NULL;
}

/* Wait for the process to end (ms at most); returns its wait status, or -1. */
static int venue_wait(venue *v, int ms)
{
	int64_t end = wire_ms() + ms;
	int st;
	while (wire_ms() < end) {
		pid_t r = waitpid(v->pid, &st, WNOHANG);
		if (r == v->pid) {
			close(v->out);
			return st;
		}
		usleep(10000);
	}
	kill(v->pid, SIGKILL);
	waitpid(v->pid, &st, 0);
	close(v->out);
	return -1;
}

static void test_a_killed_venue_restarts_on_the_same_port_at_once(void **state)
{
	(void)state;
	int port = free_port();
	venue v1, v2;
	venue_start(&v1, port);
	assert_true(venue_says(&v1, "listening on", 5000));
	wire w;
	wire_up_port(&w, NULL, port);
	wc *a = wc_open(&w), *b = wc_open(&w);
	wc_auth(a, "alice", "sa", NULL);
	wc_alive(b);
	wc_req(b, "sim/fault", "{\"action\":\"close\"}");   /* a close the venue began: */
	assert_true(wire_until(&w, wc_is_closed, b, 3000)); /* its side goes to TIME_WAIT */
	kill(v1.pid, SIGKILL);
	int st = venue_wait(&v1, 5000);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_true(wire_until(&w, wc_is_closed, a, 3000)); /* the client sees the drop */
	venue_start(&v2, port); /* at once: its old connections are in TIME_WAIT */
	if (!venue_says(&v2, "listening on", 5000))
		fail_msg("restart on port %d failed: %s", port, v2.text);
	wc *c = wc_open(&w);
	wc_auth(c, "alice", "sa", NULL);
	/* SIGTERM: an orderly end with status 0; its connection is closed */
	kill(v2.pid, SIGTERM);
	st = venue_wait(&v2, 5000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(wire_until(&w, wc_is_closed, c, 3000));
	/* the venue closed first, so its side of that connection is in TIME_WAIT now */
	venue v3;
	venue_start(&v3, port);
	if (!venue_says(&v3, "listening on", 5000))
		fail_msg("restart after SIGTERM on port %d failed: %s", port, v3.text);
	kill(v3.pid, SIGKILL);
	venue_wait(&v3, 5000);
	wc_close(a);
	wc_close(b);
	wc_close(c);
	wire_down(&w);
}

static void test_a_second_venue_on_a_busy_port_exits_1(void **state)
{
	(void)state;
	int port = free_port();
	venue v1, v2;
	venue_start(&v1, port);
	assert_true(venue_says(&v1, "listening on", 5000));
	venue_start(&v2, port);
	assert_true(venue_says(&v2, "cannot listen", 5000));
	int st = venue_wait(&v2, 5000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	kill(v1.pid, SIGTERM);
	st = venue_wait(&v1, 5000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The listening socket of port in this process, or -1. */
static int listen_fd(int port)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_in sa;
		socklen_t n = sizeof sa;
		int on = 0;
		socklen_t on_len = sizeof on;
		if (getsockname(fd, (struct sockaddr *)&sa, &n) == 0 && sa.sin_family == AF_INET &&
		    ntohs(sa.sin_port) == port &&
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &on_len) == 0 && on)
			return fd;
	}
	return -1;
}

static void test_the_venue_listens_on_its_address_only_with_reuseaddr(void **state)
{
	(void)state;
	wire w;
	wire_up(&w, NULL); /* in-process, iface 127.0.0.1 */
	int lfd = listen_fd(w.port);
	assert_true(lfd >= 0); /* an IPv4 socket: not [::] */
	int on = 0;
	socklen_t on_len = sizeof on;
	assert_int_equal(getsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, &on_len), 0);
	assert_true(on); /* what lets a restarted venue bind next to TIME_WAIT connections */
	struct sockaddr_in bound;
	socklen_t bn = sizeof bound;
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&bound, &bn), 0);
	assert_int_equal(ntohl(bound.sin_addr.s_addr), INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w.port)};
	inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
	assert_int_not_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	wc *c = wc_open(&w); /* 127.0.0.1 works */
	wc_alive(c);
	wc_close(c);
	wire_down(&w);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_killed_venue_restarts_on_the_same_port_at_once),
		cmocka_unit_test(test_a_second_venue_on_a_busy_port_exits_1),
		cmocka_unit_test(test_the_venue_listens_on_its_address_only_with_reuseaddr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
