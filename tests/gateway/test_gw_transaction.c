/*
 * test_gw_transaction.c - gw_transaction over the real gw_transport on
 * loopback TCP: the test plays the SIP server (a listening socket the
 * gateway's next-hop connection reaches, and a client connection to the
 * gateway's listener). RFC 3261 section 17: client transactions report one
 * final response, absorb provisionals, time out with Timer F = 64*T1;
 * server transactions absorb retransmissions and repeat the final answer,
 * CANCEL gets 200 or 481, an unanswered transaction gets 500 before the
 * client's Timer F. T1 is 50 ms here (the lowest setting) so that Timer F
 * is 3.2 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf_report.h"
#include "conf_store.h"
#include "gw_conf.h"
#include "gw_sip.h"
#include "gw_transaction.h"
#include "gw_transport.h"

static struct {
    char dir[64];
    struct event_base *base;
    struct gw_conf *gc;
    struct gw_transport *tp;
    struct gw_txn *txn;
    int srv_listen; /* the "SIP server": the gateway's next hop */
    int srv_conn;   /* the gateway's connection, accepted */
    int gw_port;    /* the gateway's listener */
    /* what arrived at the gateway */
    struct gw_stxn *last_stxn;
    int n_requests;
    /* client callbacks */
    int cb_calls;
    int cb_code; /* 0 for timeout */
    int abandoned;
} T;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void on_message(void *arg, uint64_t conn_id, struct gw_sip_msg *m)
{
    (void)arg;
    if (!gw_sip_is_request(m)) {
        gw_txn_response(T.txn, m);
        return;
    }
    T.n_requests++;
    struct gw_stxn *st = gw_txn_server(T.txn, conn_id, m);
    if (st)
        T.last_stxn = st;
}

static void spin(long ms, int (*done)(void))
{
    long end = now_ms() + ms;
    while (now_ms() < end && (done == NULL || !done()))
        event_base_loop(T.base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
}

static int rm_entry(const char *p, const struct stat *sb, int f, struct FTW *w)
{
    (void)sb;
    (void)f;
    (void)w;
    return remove(p);
}

static int bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    return ntohs(sa.sin_port);
}

static int have_conn(void)
{
    return T.srv_conn >= 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    T.srv_conn = -1;
    strcpy(T.dir, "/tmp/test_gw_txn.XXXXXX");
    if (mkdtemp(T.dir) == NULL)
        return -1;
    T.srv_listen = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (bind(T.srv_listen, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(T.srv_listen, 4) != 0)
        return -1;
    /* a free port for the gateway's listener */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    bind(probe, (struct sockaddr *)&sa, sizeof sa);
    T.gw_port = bound_port(probe);
    close(probe);

    struct conf_report rep;
    conf_report_init(&rep);
    struct conf_strlist hosted = {0};
    conf_strlist_add(&hosted, "contoso.example");
    if (conf_store_init(T.dir, &hosted, &rep) != 0)
        return -1;
    conf_strlist_clear(&hosted);
    char path[128], text[1024];
    snprintf(path, sizeof path, "%s/gateway.conf", T.dir);
    snprintf(text, sizeof text,
             "edge_keys = \"rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7\";\n"
             "sip_server = \"127.0.0.1:%d\";\nsip_listen = \"127.0.0.1\";\nsip_port = %d;\n"
             "sip_t1_ms = 50;\nstate_db = \"%s/state.db\";\n",
             bound_port(T.srv_listen), T.gw_port, T.dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    T.gc = gw_conf_load(T.dir, &rep);
    if (T.gc == NULL) {
        conf_report_print(&rep, stderr);
        return -1;
    }
    conf_report_clear(&rep);
    T.base = event_base_new();
    static const struct gw_transport_cbs cbs = {.message = on_message};
    char err[256];
    T.tp = gw_transport_new(T.base, T.gc, &cbs, NULL, err, sizeof err);
    if (T.tp == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    T.txn = gw_txn_new(T.base, T.tp, T.gc->local.sip_t1_ms);
    /* the next-hop connection comes to our listener */
    long end = now_ms() + 3000;
    while (T.srv_conn < 0 && now_ms() < end) {
        event_base_loop(T.base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
        T.srv_conn = accept(T.srv_listen, NULL, NULL);
    }
    spin(300, NULL);
    return have_conn() && gw_transport_up(T.tp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gw_txn_free(T.txn);
    gw_transport_free(T.tp);
    gw_conf_free(T.gc);
    if (T.base)
        event_base_free(T.base);
    if (T.srv_conn >= 0)
        close(T.srv_conn);
    close(T.srv_listen);
    nftw(T.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Reads one complete SIP message from fd (blocking with the loop turning). */
static struct gw_sip_msg *read_msg(int fd, long ms)
{
    static char buf[65536];
    static size_t len;
    static int buf_fd = -1;
    if (buf_fd != fd) {
        buf_fd = fd;
        len = 0;
    }
    long end = now_ms() + ms;
    for (;;) {
        struct gw_sip_frame fr;
        if (gw_sip_frame(buf, len, NULL, &fr) == 1 && fr.msg_len > 0) {
            struct gw_sip_msg *m = gw_sip_parse(buf + fr.msg_off, fr.msg_len, NULL, NULL);
            memmove(buf, buf + fr.consumed, len - fr.consumed);
            len -= fr.consumed;
            return m;
        }
        if (now_ms() >= end)
            return NULL;
        event_base_loop(T.base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) == 1) {
            ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
            if (n > 0)
                len += (size_t)n;
        }
    }
}

static void send_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

static char *request(const char *method, const char *branch, const char *to_tag, size_t *len)
{
    struct gw_sip_request r = {
        .method = method,
        .request_uri = "sip:bob@contoso.example",
        .from_uri = "sip:alice@fabrikam.example",
        .from_tag = "ft1",
        .to_uri = "sip:bob@contoso.example",
        .to_tag = to_tag,
        .call_id = "call-1",
        .cseq = 1,
        .via_host = "127.0.0.1",
        .via_port = 5060,
        .branch = branch,
        .max_forwards = -1,
        .expires = -1,
    };
    char *b = gw_sip_request_build(&r, len, NULL);
    assert_non_null(b);
    return b;
}

static void answer(int fd, const struct gw_sip_msg *req, int code)
{
    struct gw_sip_response r = {
        .code = code, .to_tag = "srv", .expires = -1, .min_expires = -1, .retry_after = -1};
    size_t len;
    char *b = gw_sip_response_build(req, &r, &len, NULL);
    assert_non_null(b);
    send_all(fd, b, len);
    free(b);
}

static void client_cb(void *arg, const struct gw_sip_msg *resp)
{
    (void)arg;
    T.cb_calls++;
    T.cb_code = resp ? gw_sip_status(resp) : 0;
}

static int cb_called(void)
{
    return T.cb_calls > 0;
}

/* ---- client ------------------------------------------------------------- */

static void client_reports_one_final_response_and_absorbs_provisionals(void **state)
{
    (void)state;
    T.cb_calls = 0;
    size_t len;
    char *b = request("MESSAGE", "z9hG4bKc1", NULL, &len);
    assert_true(gw_txn_client(T.txn, "z9hG4bKc1", "MESSAGE", b, len, client_cb, NULL) > 0);
    free(b);
    struct gw_sip_msg *req = read_msg(T.srv_conn, 2000);
    assert_non_null(req);
    assert_string_equal(gw_sip_via_branch(req), "z9hG4bKc1");
    answer(T.srv_conn, req, 100);
    spin(100, NULL);
    assert_int_equal(T.cb_calls, 0); /* 1xx: Proceeding, nothing reported */
    answer(T.srv_conn, req, 202);
    spin(1000, cb_called);
    assert_int_equal(T.cb_calls, 1);
    assert_int_equal(T.cb_code, 202);
    answer(T.srv_conn, req, 200); /* a second final (a fork): dropped */
    spin(200, NULL);
    assert_int_equal(T.cb_calls, 1);
    struct gw_txn_counters c;
    gw_txn_counters(T.txn, &c);
    assert_true(c.stray_responses >= 1);
    assert_int_equal(c.client_open, 0);
    gw_sip_msg_free(req);
}

static void client_gets_null_after_timer_f(void **state)
{
    (void)state;
    T.cb_calls = 0;
    size_t len;
    char *b = request("MESSAGE", "z9hG4bKc2", NULL, &len);
    long t0 = now_ms();
    assert_true(gw_txn_client(T.txn, "z9hG4bKc2", "MESSAGE", b, len, client_cb, NULL) > 0);
    free(b);
    struct gw_sip_msg *req = read_msg(T.srv_conn, 2000);
    assert_non_null(req);
    gw_sip_msg_free(req); /* never answered */
    spin(6000, cb_called);
    long took = now_ms() - t0;
    assert_int_equal(T.cb_calls, 1);
    assert_int_equal(T.cb_code, 0);                   /* the caller acts as on 408 */
    assert_true(took >= 64 * 50 - 50 && took < 5000); /* Timer F = 64 * T1 */
}

static void client_branch_in_use_is_refused_and_forget_silences(void **state)
{
    (void)state;
    T.cb_calls = 0;
    size_t len;
    char *b = request("MESSAGE", "z9hG4bKc3", NULL, &len);
    uint64_t h = gw_txn_client(T.txn, "z9hG4bKc3", "MESSAGE", b, len, client_cb, NULL);
    assert_true(h > 0);
    assert_int_equal(gw_txn_client(T.txn, "z9hG4bKc3", "MESSAGE", b, len, client_cb, NULL), 0);
    free(b);
    gw_txn_client_forget(T.txn, h);
    struct gw_sip_msg *req = read_msg(T.srv_conn, 2000);
    assert_non_null(req);
    answer(T.srv_conn, req, 200);
    gw_sip_msg_free(req);
    spin(300, NULL);
    assert_int_equal(T.cb_calls, 0);
}

/* ---- server ------------------------------------------------------------- */

static int connect_gw(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)T.gw_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static int got_request(void)
{
    return T.last_stxn != NULL;
}

static void server_absorbs_retransmissions_and_repeats_the_answer(void **state)
{
    (void)state;
    int fd = connect_gw();
    size_t len;
    char *b = request("MESSAGE", "z9hG4bKs1", NULL, &len);
    T.last_stxn = NULL;
    send_all(fd, b, len);
    spin(2000, got_request);
    struct gw_stxn *st = T.last_stxn;
    assert_non_null(st);
    T.last_stxn = NULL;
    send_all(fd, b, len); /* retransmission while open: absorbed */
    spin(300, NULL);
    assert_null(T.last_stxn);
    struct gw_sip_msg *none = read_msg(fd, 200);
    assert_null(none); /* nothing answered yet */
    assert_int_equal(gw_stxn_reply(T.txn, st, 202, NULL), 0);
    struct gw_sip_msg *r1 = read_msg(fd, 2000);
    assert_non_null(r1);
    assert_int_equal(gw_sip_status(r1), 202);
    send_all(fd, b, len); /* after the answer: the same answer again */
    struct gw_sip_msg *r2 = read_msg(fd, 2000);
    assert_non_null(r2);
    assert_int_equal(gw_sip_status(r2), 202);
    assert_string_equal(gw_sip_to_tag(r1), gw_sip_to_tag(r2));
    assert_null(T.last_stxn);
    struct gw_txn_counters c;
    gw_txn_counters(T.txn, &c);
    assert_true(c.retransmissions >= 2);
    gw_sip_msg_free(r1);
    gw_sip_msg_free(r2);
    free(b);
    close(fd);
}

static void cancel_gets_200_when_known_and_481_when_not(void **state)
{
    (void)state;
    int fd = connect_gw();
    size_t len;
    char *b = request("MESSAGE", "z9hG4bKs2", NULL, &len);
    T.last_stxn = NULL;
    send_all(fd, b, len);
    spin(2000, got_request);
    struct gw_stxn *st = T.last_stxn;
    assert_non_null(st);
    free(b);
    b = request("CANCEL", "z9hG4bKs2", NULL, &len);
    send_all(fd, b, len);
    struct gw_sip_msg *r = read_msg(fd, 2000);
    assert_non_null(r);
    assert_int_equal(gw_sip_status(r), 200); /* RFC 3261 section 9.2 */
    assert_string_equal(gw_sip_cseq_method(r), "CANCEL");
    gw_sip_msg_free(r);
    free(b);
    b = request("CANCEL", "z9hG4bKnone", NULL, &len);
    send_all(fd, b, len);
    r = read_msg(fd, 2000);
    assert_non_null(r);
    assert_int_equal(gw_sip_status(r), 481);
    gw_sip_msg_free(r);
    free(b);
    gw_stxn_reply(T.txn, st, 200, NULL);
    r = read_msg(fd, 2000);
    assert_non_null(r);
    assert_int_equal(gw_sip_status(r), 200);
    assert_string_equal(gw_sip_cseq_method(r), "MESSAGE");
    gw_sip_msg_free(r);
    close(fd);
}

static void on_abandon(void *arg, struct gw_stxn *st)
{
    (void)arg;
    (void)st;
    T.abandoned++;
}

static void unanswered_server_transaction_gets_500_before_timer_f(void **state)
{
    (void)state;
    int fd = connect_gw();
    size_t len;
    char *b = request("MESSAGE", "z9hG4bKs3", NULL, &len);
    T.last_stxn = NULL;
    T.abandoned = 0;
    long t0 = now_ms();
    send_all(fd, b, len);
    spin(2000, got_request);
    assert_non_null(T.last_stxn);
    gw_stxn_set_owner(T.last_stxn, on_abandon, NULL);
    struct gw_sip_msg *r = read_msg(fd, 5000);
    long took = now_ms() - t0;
    assert_non_null(r);
    assert_int_equal(gw_sip_status(r), 500);
    assert_int_equal(T.abandoned, 1);
    assert_true(took < 64 * 50); /* before the client's Timer F */
    gw_sip_msg_free(r);
    free(b);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_reports_one_final_response_and_absorbs_provisionals),
        cmocka_unit_test(client_gets_null_after_timer_f),
        cmocka_unit_test(client_branch_in_use_is_refused_and_forget_silences),
        cmocka_unit_test(server_absorbs_retransmissions_and_repeats_the_answer),
        cmocka_unit_test(cancel_gets_200_when_known_and_481_when_not),
        cmocka_unit_test(unanswered_server_transaction_gets_500_before_timer_f),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
