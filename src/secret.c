/* secret.c — opaque credential holder; see secret.h. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lt_secret {
	size_t len;
	char data[]; /* len bytes + NUL */
};

lt_secret *lt_secret_new(const char *s, size_t n)
{
	if (!n || n > 1u << 20)
		return NULL;
	lt_secret *sec = malloc(sizeof *sec + n + 1);
	if (!sec)
		return NULL;
	sec->len = n;
	memcpy(sec->data, s, n);
	sec->data[n] = '\0';
	return sec;
}

void lt_secret_free(lt_secret *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s->data, s->len);
	free(s);
}

const char *lt_secret_expose(const lt_secret *s, size_t *len)
{
	*len = s->len;
	return s->data;
}

int lt_secret_from_file(const char *path, lt_secret **out, lt_err *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lt_err_set(err, LT_EINVAL, "secret file %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return lt_err_set(err, LT_EINVAL, "secret file %s: not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return lt_err_set(
			err, LT_EINVAL,
			"secret file %s: mode %03o lets group or others read it; chmod 600 it",
			path, (unsigned)(st.st_mode & 0777));
	}
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n <= 0 || n == (ssize_t)sizeof buf) {
		OPENSSL_cleanse(buf, sizeof buf);
		return lt_err_set(err, LT_EINVAL, "secret file %s: empty, unreadable or over 4 KiB",
				  path);
	}
	size_t len = (size_t)n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	*out = lt_secret_new(buf, len);
	OPENSSL_cleanse(buf, sizeof buf);
	if (!*out)
		return lt_err_set(err, LT_EINVAL, "secret file %s: empty", path);
	return 0;
}
