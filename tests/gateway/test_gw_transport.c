/*
 * test_gw_transport.c - gw_transport over TLS on loopback, both directions,
 * with certificates made by tests/common/certgen: the gateway's next-hop
 * connection verifies the SIP server's chain against sip_ca_file (and refuses
 * one from another CA), its TLS listener serves a SIP client and refuses
 * addresses other than sip_trusted and clients without the certificate
 * sip_tls_verify_client asks for; SIP
 * messages cross both ways and are framed and parsed on the other side.
 * The test's SIP server and client use common/tls.h on bufferevents, as the
 * gateway does.
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
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

#include "certgen.h"
#include "conf_report.h"
#include "conf_store.h"
#include "gw_conf.h"
#include "gw_sip.h"
#include "gw_transport.h"
#include "tls.h"

static struct {
    char dir[64];
    struct event_base *base;
    struct tls_ctx *srv_tls, *rogue_tls, *misnamed_tls, *cli_tls;
    struct evconnlistener *srv; /* the test's SIP server (the gateway's next hop) */
    bool use_rogue, use_misnamed;
    struct bufferevent *srv_bev; /* its accepted connection */
    int srv_port, gw_port;
    char got[8192]; /* plaintext the test's peers received */
    size_t got_len;
    int gw_msgs;      /* messages the gateway's transport delivered */
    char gw_last[64]; /* their first line */
    uint64_t gw_conn; /* the connection of the last one */
    int hop_up;       /* next_hop(true) calls */
    bool peer_closed; /* a test peer's connection was closed */
} T;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void spin(long ms, bool (*done)(void))
{
    long end = now_ms() + ms;
    while (now_ms() < end && (done == NULL || !done()))
        event_base_loop(T.base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
}

static void peer_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    if (n > sizeof(T.got) - T.got_len - 1)
        n = sizeof(T.got) - T.got_len - 1;
    evbuffer_remove(in, T.got + T.got_len, n);
    T.got_len += n;
    T.got[T.got_len] = '\0';
}

static void peer_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        T.peer_closed = true;
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int sl,
                       void *arg)
{
    (void)l;
    (void)sa;
    (void)sl;
    (void)arg;
    struct ssl_st *ssl = tls_ssl_new_server(T.use_rogue      ? T.rogue_tls
                                            : T.use_misnamed ? T.misnamed_tls
                                                             : T.srv_tls,
                                            false);
    if (T.srv_bev)
        bufferevent_free(T.srv_bev); /* the gateway reconnected */
    T.srv_bev = bufferevent_openssl_socket_new(T.base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                               BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(T.srv_bev, peer_read, NULL, peer_event, NULL);
    bufferevent_enable(T.srv_bev, EV_READ | EV_WRITE);
}

static void on_message(void *arg, uint64_t conn_id, struct gw_sip_msg *m)
{
    (void)arg;
    T.gw_msgs++;
    T.gw_conn = conn_id;
    snprintf(T.gw_last, sizeof(T.gw_last), "%s",
             gw_sip_is_request(m) ? gw_sip_method(m) : gw_sip_reason(m));
    gw_sip_msg_free(m);
}

static void on_next_hop(void *arg, bool up)
{
    (void)arg;
    if (up)
        T.hop_up++;
}

static int rm_entry(const char *p, const struct stat *sb, int f, struct FTW *w)
{
    (void)sb;
    (void)f;
    (void)w;
    return remove(p);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", T.dir, name);
}

static int setup(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    strcpy(T.dir, "/tmp/test_gw_transport.XXXXXX");
    if (mkdtemp(T.dir) == NULL)
        return -1;
    /* a CA, the SIP server's and the gateway's certificates, and a rogue
     * server certificate from another CA */
    EVP_PKEY *cak = certgen_key(), *rk = certgen_key(), *sk = certgen_key(), *gk = certgen_key(),
             *xk = certgen_key(), *mk = certgen_key();
    const struct certgen_spec cas = {.cn = "test CA", .ca = true, .to_days = 30};
    const struct certgen_spec rcas = {.cn = "rogue CA", .ca = true, .to_days = 30};
    X509 *ca = certgen_cert(&cas, cak, NULL, NULL), *rca = certgen_cert(&rcas, rk, NULL, NULL);
    const char *sdns[] = {"sip.test", NULL}, *gdns[] = {"gw.test", NULL};
    const struct certgen_spec ss = {.cn = "sip.test", .dns = sdns, .eku = CERTGEN_EKU_BOTH};
    const struct certgen_spec gs = {.cn = "gw.test", .dns = gdns, .eku = CERTGEN_EKU_BOTH};
    X509 *sc = certgen_cert(&ss, sk, ca, cak), *gc = certgen_cert(&gs, gk, ca, cak);
    X509 *xc = certgen_cert(&ss, xk, rca, rk);
    /* trusted CA, right chain, but for another host name (RFC 5922 7) */
    const char *mdns[] = {"other.test", NULL};
    const struct certgen_spec ms = {.cn = "sip.test", .dns = mdns, .eku = CERTGEN_EKU_BOTH};
    X509 *mc = certgen_cert(&ms, mk, ca, cak);
    char p[128];
    path_in(p, sizeof p, "ca.pem");
    certgen_write(p, &ca, 1, NULL);
    path_in(p, sizeof p, "sip.pem");
    certgen_write(p, &sc, 1, sk);
    path_in(p, sizeof p, "gw.pem");
    certgen_write(p, &gc, 1, gk);
    path_in(p, sizeof p, "rogue.pem");
    certgen_write(p, &xc, 1, xk);
    path_in(p, sizeof p, "misnamed.pem");
    certgen_write(p, &mc, 1, mk);
    X509 *all[] = {ca, rca, sc, gc, xc, mc};
    for (size_t i = 0; i < 6; i++)
        X509_free(all[i]);
    EVP_PKEY *keys[] = {cak, rk, sk, gk, xk, mk};
    for (size_t i = 0; i < 6; i++)
        EVP_PKEY_free(keys[i]);

    char err[256], ca_path[128], sip_path[128], rogue_path[128], mis_path[128];
    path_in(ca_path, sizeof ca_path, "ca.pem");
    path_in(sip_path, sizeof sip_path, "sip.pem");
    path_in(rogue_path, sizeof rogue_path, "rogue.pem");
    path_in(mis_path, sizeof mis_path, "misnamed.pem");
    struct tls_conf mc_conf = {.cert_file = mis_path, .ca_file = ca_path};
    struct tls_conf sc_conf = {.cert_file = sip_path, .ca_file = ca_path};
    struct tls_conf rc_conf = {.cert_file = rogue_path, .ca_file = ca_path};
    struct tls_conf cc_conf = {.ca_file = ca_path};
    T.srv_tls = tls_ctx_new(&sc_conf, err, sizeof err);
    T.rogue_tls = tls_ctx_new(&rc_conf, err, sizeof err);
    T.cli_tls = tls_ctx_new(&cc_conf, err, sizeof err);
    T.misnamed_tls = tls_ctx_new(&mc_conf, err, sizeof err);
    if (!T.srv_tls || !T.rogue_tls || !T.cli_tls || !T.misnamed_tls) {
        fprintf(stderr, "tls: %s\n", err);
        return -1;
    }
    T.base = event_base_new();
    T.srv_port = free_port();
    T.gw_port = free_port();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)T.srv_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    T.srv =
        evconnlistener_new_bind(T.base, srv_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                8, (struct sockaddr *)&sa, sizeof sa);
    return T.srv ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (T.srv_bev)
        bufferevent_free(T.srv_bev);
    if (T.srv)
        evconnlistener_free(T.srv);
    tls_ctx_free(T.srv_tls);
    tls_ctx_free(T.rogue_tls);
    tls_ctx_free(T.cli_tls);
    tls_ctx_free(T.misnamed_tls);
    if (T.base)
        event_base_free(T.base);
    nftw(T.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* A configuration directory for the gateway with TLS toward the test's
 * server and on its own listener. */
static struct gw_conf *gateway_conf(const char *extra)
{
    struct conf_report rep;
    conf_report_init(&rep);
    char confdir[128];
    snprintf(confdir, sizeof confdir, "%s/conf", T.dir);
    struct conf_strlist hosted = {0};
    conf_strlist_add(&hosted, "contoso.example");
    conf_store_init(confdir, &hosted, &rep);
    conf_strlist_clear(&hosted);
    char path[160], text[1024];
    snprintf(path, sizeof path, "%s/gateway.conf", confdir);
    snprintf(text, sizeof text,
             "edge_keys = \"rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7\";\n"
             "sip_server = \"127.0.0.1:%d\";\nsip_transport = \"tls\";\n"
             "sip_server_name = \"sip.test\";\nsip_ca_file = \"%s/ca.pem\";\n"
             "sip_cert_file = \"%s/gw.pem\";\nsip_listen = \"127.0.0.1\";\nsip_port = %d;\n"
             "reconnect_max_s = 1;\nstate_db = \"%s/state.db\";\n%s",
             T.srv_port, T.dir, T.dir, T.gw_port, T.dir, extra ? extra : "");
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    struct gw_conf *gc = gw_conf_load(confdir, &rep);
    if (gc == NULL)
        conf_report_print(&rep, stderr);
    conf_report_clear(&rep);
    return gc;
}

static const char OPTIONS[] = "OPTIONS sip:gw.test SIP/2.0\r\n"
                              "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtls1\r\n"
                              "From: <sip:carol@contoso.example>;tag=a\r\n"
                              "To: <sip:gw.test>\r\nCall-ID: tls-1\r\nCSeq: 1 OPTIONS\r\n"
                              "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

static bool hop_is_up(void)
{
    return T.hop_up > 0 && T.srv_bev != NULL;
}

static bool got_options(void)
{
    return strstr(T.got, "OPTIONS sip:gw.test") != NULL;
}

static bool gw_got_one(void)
{
    return T.gw_msgs > 0;
}

static void next_hop_over_tls_verifies_and_carries_sip_both_ways(void **state)
{
    (void)state;
    struct gw_conf *gc = gateway_conf(NULL);
    assert_non_null(gc);
    assert_true(gc->tls);
    static const struct gw_transport_cbs cbs = {.message = on_message, .next_hop = on_next_hop};
    char err[256];
    struct gw_transport *tp = gw_transport_new(T.base, gc, &cbs, NULL, err, sizeof err);
    assert_non_null(tp);
    assert_string_equal(gw_transport_via(tp), "TLS");
    spin(5000, hop_is_up);
    assert_true(gw_transport_up(tp));

    /* gateway -> server: the request arrives decrypted and whole */
    T.got_len = 0;
    T.got[0] = '\0';
    assert_int_equal(gw_transport_send(tp, OPTIONS, strlen(OPTIONS)), 0);
    spin(3000, got_options);
    assert_true(got_options());
    /* server -> gateway: a response, framed and parsed by the transport */
    const char *resp = "SIP/2.0 200 Fine Over TLS\r\n"
                       "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtls1\r\n"
                       "From: <sip:carol@contoso.example>;tag=a\r\n"
                       "To: <sip:gw.test>;tag=b\r\nCall-ID: tls-1\r\nCSeq: 1 OPTIONS\r\n"
                       "Content-Length: 0\r\n\r\n";
    T.gw_msgs = 0;
    bufferevent_write(T.srv_bev, resp, strlen(resp));
    spin(3000, gw_got_one);
    assert_int_equal(T.gw_msgs, 1);
    assert_string_equal(T.gw_last, "Fine Over TLS");
    struct gw_transport_counters c;
    gw_transport_counters(tp, &c);
    assert_int_equal(c.connects, 1);
    gw_transport_free(tp);
    gw_conf_free(gc);
    bufferevent_free(T.srv_bev);
    T.srv_bev = NULL;
}

static bool got_one_or_closed(void)
{
    return T.gw_msgs > 0 || T.peer_closed;
}

/* A SIP server's connection to the gateway's listener, presenting the
 * default certificate of ctx (none for T.cli_tls), sending OPTIONS. Returns
 * whether the gateway's transport delivered it; with answer, checks that a
 * response goes back on that connection. extra: more gateway.conf lines. */
static bool listener_client(struct tls_ctx *ctx, const char *extra, bool answer)
{
    struct gw_conf *gc = gateway_conf(extra);
    assert_non_null(gc);
    static const struct gw_transport_cbs cbs = {.message = on_message, .next_hop = on_next_hop};
    char err[256];
    struct gw_transport *tp = gw_transport_new(T.base, gc, &cbs, NULL, err, sizeof err);
    assert_non_null(tp);
    /* the SIP server's side of a connection it opens to the gateway */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)T.gw_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct ssl_st *ssl = tls_ssl_new_client(ctx, NULL, "gw.test", false);
    struct bufferevent *cli = bufferevent_openssl_socket_new(
        T.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(cli, peer_read, NULL, peer_event, NULL);
    bufferevent_enable(cli, EV_READ | EV_WRITE);
    assert_int_equal(bufferevent_socket_connect(cli, (struct sockaddr *)&sa, sizeof sa), 0);
    T.gw_msgs = 0;
    T.peer_closed = false;
    bufferevent_write(cli, OPTIONS, strlen(OPTIONS));
    spin(3000, got_one_or_closed);
    bool delivered = T.gw_msgs == 1;
    if (delivered && answer) {
        assert_string_equal(T.gw_last, "OPTIONS");
        /* the answer goes back on the connection the request came on */
        T.got_len = 0;
        T.got[0] = '\0';
        const char *a = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtls1\r\n"
                        "Content-Length: 0\r\n\r\n";
        assert_int_equal(gw_transport_reply(tp, T.gw_conn, a, strlen(a)), 0);
        spin(3000, NULL);
        assert_non_null(strstr(T.got, "SIP/2.0 200 OK"));
        assert_int_equal(tls_peer_verify(bufferevent_openssl_get_ssl(cli)), TLS_VERIFY_OK);
    }
    struct gw_transport_counters c;
    gw_transport_counters(tp, &c);
    if (!delivered)
        assert_true(c.conns <= 1); /* refused: at most the next hop is left */
    bufferevent_free(cli);
    gw_transport_free(tp);
    gw_conf_free(gc);
    if (T.srv_bev) {
        bufferevent_free(T.srv_bev);
        T.srv_bev = NULL;
    }
    return delivered;
}

static void listener_over_tls_serves_a_sip_client(void **state)
{
    (void)state;
    /* default with sip_ca_file: required; sip.test's certificate names
     * sip_server_name and chains to the CA */
    assert_true(listener_client(T.srv_tls, NULL, true));
}

static void listener_refuses_a_client_without_the_right_certificate(void **state)
{
    (void)state;
    assert_false(listener_client(T.cli_tls, NULL, false));      /* none presented */
    assert_false(listener_client(T.rogue_tls, NULL, false));    /* another CA */
    assert_false(listener_client(T.misnamed_tls, NULL, false)); /* names other.test */
    const char *req = "sip_tls_verify_client = \"required\";\n";
    assert_false(listener_client(T.cli_tls, req, false));
    assert_true(listener_client(T.srv_tls, req, false));
}

static void listener_verify_client_optional_and_none(void **state)
{
    (void)state;
    const char *opt = "sip_tls_verify_client = \"optional\";\n";
    assert_true(listener_client(T.cli_tls, opt, false));       /* none: accepted */
    assert_false(listener_client(T.rogue_tls, opt, false));    /* presented, bad: refused */
    assert_false(listener_client(T.misnamed_tls, opt, false)); /* presented, wrong name */
    assert_true(listener_client(T.srv_tls, opt, false));
    const char *none = "sip_tls_verify_client = \"none\";\n";
    assert_true(listener_client(T.rogue_tls, none, false));
    assert_true(listener_client(T.cli_tls, none, false));
    /* a bad value is a configuration error */
    assert_null(gateway_conf("sip_tls_verify_client = \"maybe\";\n"));
}

/* The next hop presents the certificate *which selects: the handshake
 * completes, the gateway refuses the connection and never reports it up. */
static void next_hop_refused(bool *which)
{
    *which = true;
    T.hop_up = 0;
    struct gw_conf *gc = gateway_conf(NULL);
    assert_non_null(gc);
    static const struct gw_transport_cbs cbs = {.message = on_message, .next_hop = on_next_hop};
    char err[256];
    struct gw_transport *tp = gw_transport_new(T.base, gc, &cbs, NULL, err, sizeof err);
    assert_non_null(tp);
    spin(2500, NULL);
    assert_int_equal(T.hop_up, 0);
    assert_false(gw_transport_up(tp));
    gw_transport_free(tp);
    gw_conf_free(gc);
    if (T.srv_bev) {
        bufferevent_free(T.srv_bev);
        T.srv_bev = NULL;
    }
    *which = false;
}

static void next_hop_from_another_ca_is_refused(void **state)
{
    (void)state;
    next_hop_refused(&T.use_rogue); /* the chain does not verify */
}

static void next_hop_for_another_name_is_refused(void **state)
{
    (void)state;
    next_hop_refused(&T.use_misnamed); /* the chain verifies, other.test is not sip.test */
}

static void listener_refuses_an_untrusted_address(void **state)
{
    (void)state;
    /* only the SIP server may connect: here a documentation address */
    struct gw_conf *gc = gateway_conf("sip_trusted = \"192.0.2.1\";\n");
    assert_non_null(gc);
    static const struct gw_transport_cbs cbs = {.message = on_message, .next_hop = on_next_hop};
    char err[256];
    struct gw_transport *tp = gw_transport_new(T.base, gc, &cbs, NULL, err, sizeof err);
    assert_non_null(tp);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)T.gw_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    spin(500, NULL);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b[16];
    assert_int_equal(recv(fd, b, sizeof b, 0), 0); /* closed at once */
    close(fd);
    struct gw_transport_counters c;
    gw_transport_counters(tp, &c);
    assert_true(c.conns <= 1); /* at most the next hop */
    gw_transport_free(tp);
    gw_conf_free(gc);
    if (T.srv_bev) {
        bufferevent_free(T.srv_bev);
        T.srv_bev = NULL;
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a refused peer's writes hit a closed socket, as in the daemon */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(next_hop_over_tls_verifies_and_carries_sip_both_ways),
        cmocka_unit_test(listener_over_tls_serves_a_sip_client),
        cmocka_unit_test(listener_refuses_a_client_without_the_right_certificate),
        cmocka_unit_test(listener_verify_client_optional_and_none),
        cmocka_unit_test(next_hop_from_another_ca_is_refused),
        cmocka_unit_test(next_hop_for_another_name_is_refused),
        cmocka_unit_test(listener_refuses_an_untrusted_address),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
