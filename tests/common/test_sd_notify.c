/*
 * test_sd_notify.c - the sd_notify(3) datagrams as systemd receives them:
 * each case binds a real AF_UNIX datagram socket (a path in a fresh
 * directory, or an abstract name), points NOTIFY_SOCKET at it and reads
 * what arrives, with the sender's credentials as systemd sees them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sd_notify.h"

struct receiver {
    char dir[64];
    char path[128];
    int fd;
};

static int setup_path(void **state)
{
    struct receiver *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    snprintf(r->dir, sizeof(r->dir), "/tmp/xfed-sd-notify.XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->path, sizeof(r->path), "%s/notify", r->dir);

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(r->path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, r->path, strlen(r->path) + 1);
    r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(r->fd >= 0);
    assert_int_equal(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int one = 1;
    assert_int_equal(setsockopt(r->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", r->path, 1), 0);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *state = r;
    return 0;
}

static int teardown_path(void **state)
{
    struct receiver *r = *state;
    close(r->fd);
    unlink(r->path);
    rmdir(r->dir);
    free(r);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return 0;
}

/* Receives one datagram (waiting at most 2 s) into buf as a string and
 * returns the sender's pid from SCM_CREDENTIALS. */
static pid_t receive(int fd, char *buf, size_t size)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);

    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.space,
        .msg_controllen = sizeof(control.space),
    };
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    assert_true(n >= 0);
    buf[n] = '\0';
    pid_t pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            pid = cred.pid;
        }
    }
    return pid;
}

static void assert_nothing_pending(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 0);
}

static void ready_sends_ready_and_status_from_our_pid(void **state)
{
    struct receiver *r = *state;
    char buf[2048];

    assert_true(sd_notify_enabled());
    assert_int_equal(sd_notify_ready("listening on 2 ports"), 0);
    assert_int_equal(receive(r->fd, buf, sizeof(buf)), getpid());
    assert_string_equal(buf, "READY=1\nSTATUS=listening on 2 ports");

    assert_int_equal(sd_notify_ready(NULL), 0);
    receive(r->fd, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1");
    assert_nothing_pending(r->fd);
}

static void watchdog_stopping_and_raw_messages(void **state)
{
    struct receiver *r = *state;
    char buf[2048];

    assert_int_equal(sd_notify_watchdog(), 0);
    receive(r->fd, buf, sizeof(buf));
    assert_string_equal(buf, "WATCHDOG=1");

    assert_int_equal(sd_notify_stopping(), 0);
    receive(r->fd, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");

    assert_int_equal(sd_notify_send("READY=1\nSTATUS=x\nERRNO=0"), 0);
    receive(r->fd, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1\nSTATUS=x\nERRNO=0");
}

static void reloading_carries_the_monotonic_clock(void **state)
{
    struct receiver *r = *state;
    char buf[2048];
    struct timespec before, after;

    clock_gettime(CLOCK_MONOTONIC, &before);
    assert_int_equal(sd_notify_reloading(), 0);
    clock_gettime(CLOCK_MONOTONIC, &after);
    receive(r->fd, buf, sizeof(buf));

    unsigned long long usec = 0;
    char tail = 0;
    assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu%c", &usec, &tail), 1);
    unsigned long long lo = (unsigned long long)before.tv_sec * 1000000ULL +
                            (unsigned long long)before.tv_nsec / 1000ULL;
    unsigned long long hi =
        (unsigned long long)after.tv_sec * 1000000ULL + (unsigned long long)after.tv_nsec / 1000ULL;
    assert_true(usec >= lo && usec <= hi);
}

static void status_is_formatted_and_kept_on_one_line(void **state)
{
    struct receiver *r = *state;
    char buf[4096];

    assert_int_equal(sd_notify_status("%u streams,\n%s", 3u, "2 gateways\r"), 0);
    receive(r->fd, buf, sizeof(buf));
    assert_string_equal(buf, "STATUS=3 streams, 2 gateways ");

    /* A status longer than a message is cut, never refused. */
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(sd_notify_status("%s", big), 0);
    receive(r->fd, buf, sizeof(buf));
    assert_int_equal(strlen(buf), SD_NOTIFY_MAX);
    assert_memory_equal(buf, "STATUS=aaa", 10);

    assert_int_equal(sd_notify_ready(big), 0);
    receive(r->fd, buf, sizeof(buf));
    assert_int_equal(strlen(buf), SD_NOTIFY_MAX);
    assert_memory_equal(buf, "READY=1\nSTATUS=aaa", 18);
}

static void oversized_raw_message_is_refused(void **state)
{
    struct receiver *r = *state;
    char big[SD_NOTIFY_MAX + 2];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    errno = 0;
    assert_int_equal(sd_notify_send(big), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_nothing_pending(r->fd);
}

static void abstract_socket_name(void **state)
{
    (void)state;
    char name[108], buf[256];
    snprintf(name, sizeof(name), "@xfed-test-sd-notify-%ld", (long)getpid());

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    memcpy(sa.sun_path + 1, name + 1, n - 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(
        bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
        0);
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);

    assert_int_equal(sd_notify_watchdog(), 0);
    receive(fd, buf, sizeof(buf));
    assert_string_equal(buf, "WATCHDOG=1");
    close(fd);
}

static void unset_socket_is_a_no_op(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_false(sd_notify_enabled());
    assert_int_equal(sd_notify_ready("x"), 0);
    assert_int_equal(sd_notify_watchdog(), 0);
    assert_int_equal(sd_notify_stopping(), 0);
    assert_int_equal(sd_notify_reloading(), 0);
    assert_int_equal(sd_notify_status("%d", 1), 0);

    assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
    assert_false(sd_notify_enabled());
    assert_int_equal(sd_notify_watchdog(), 0);
}

static void unusable_socket_addresses_fail_cleanly(void **state)
{
    struct receiver *r = *state;
    char longpath[200];

    static const char *const bad[] = {"relative/notify", "@", "notify"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(setenv("NOTIFY_SOCKET", bad[i], 1), 0);
        errno = 0;
        assert_int_equal(sd_notify_watchdog(), -1);
        assert_int_equal(errno, EINVAL);
    }
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(setenv("NOTIFY_SOCKET", longpath, 1), 0);
    errno = 0;
    assert_int_equal(sd_notify_watchdog(), -1);
    assert_int_equal(errno, EINVAL);

    /* Nobody listening there: an error, not a crash or a hang. */
    char gone[160];
    snprintf(gone, sizeof(gone), "%s/nobody", r->dir);
    assert_int_equal(setenv("NOTIFY_SOCKET", gone, 1), 0);
    assert_int_equal(sd_notify_watchdog(), -1);
    assert_int_equal(errno, ENOENT);
    assert_nothing_pending(r->fd);
}

static void full_queue_never_blocks(void **state)
{
    struct receiver *r = *state;
    int eagain = 0, sent = 0;

    /* The receiver never reads: its queue fills after net.unix.max_dgram_qlen
     * datagrams (or its buffer), and the next send must fail with EAGAIN
     * instead of blocking. Bounded well above any default queue length; a
     * send that blocks is killed by the alarm and fails the test. */
    alarm(10);
    for (int i = 0; i < 100000 && !eagain; i++) {
        if (sd_notify_watchdog() == 0)
            sent++;
        else if (errno == EAGAIN)
            eagain = 1;
        else
            fail_msg("unexpected errno %d", errno);
    }
    alarm(0);
    assert_true(eagain);
    assert_true(sent > 0);

    /* Draining the queue makes room again. */
    char buf[64];
    while (recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        continue;
    assert_int_equal(sd_notify_watchdog(), 0);
}

static void watchdog_usec_from_environment(void **state)
{
    (void)state;
    char pid[32];

    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(sd_notify_watchdog_usec(), 0);

    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_int_equal(sd_notify_watchdog_usec(), 30000000);

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(sd_notify_watchdog_usec(), 30000000);

    /* Meant for another process (inherited by a child): not ours. */
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(sd_notify_watchdog_usec(), 0);
    setenv("WATCHDOG_PID", "x", 1);
    assert_int_equal(sd_notify_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");

    static const char *const bad[] = {
        "", "0", "-5", "+5", " 5", "5s", "abc", "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("WATCHDOG_USEC", bad[i], 1);
        assert_int_equal(sd_notify_watchdog_usec(), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ready_sends_ready_and_status_from_our_pid, setup_path,
                                        teardown_path),
        cmocka_unit_test_setup_teardown(watchdog_stopping_and_raw_messages, setup_path,
                                        teardown_path),
        cmocka_unit_test_setup_teardown(reloading_carries_the_monotonic_clock, setup_path,
                                        teardown_path),
        cmocka_unit_test_setup_teardown(status_is_formatted_and_kept_on_one_line, setup_path,
                                        teardown_path),
        cmocka_unit_test_setup_teardown(oversized_raw_message_is_refused, setup_path,
                                        teardown_path),
        cmocka_unit_test_setup_teardown(abstract_socket_name, setup_path, teardown_path),
        cmocka_unit_test_setup_teardown(unset_socket_is_a_no_op, setup_path, teardown_path),
        cmocka_unit_test_setup_teardown(unusable_socket_addresses_fail_cleanly, setup_path,
                                        teardown_path),
        cmocka_unit_test_setup_teardown(full_queue_never_blocks, setup_path, teardown_path),
        cmocka_unit_test_setup_teardown(watchdog_usec_from_environment, setup_path, teardown_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
