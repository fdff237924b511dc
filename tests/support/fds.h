/* fds.h — how many file descriptors this process has open (entries of /proc/self/fd, the
 * directory's own included), for tests that check a descriptor is closed exactly once. */
#ifndef LT_TEST_FDS_H
#define LT_TEST_FDS_H

int lt_test_open_fds(void);

#endif
