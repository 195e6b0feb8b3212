/*
 * gw_transaction.c - RFC 3261 section 17 over reliable transport.
 */
#include "gw_transaction.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "gw_strmap.h"
#include "gw_transport.h"
#include "ipc_idmap.h"
#include "log.h"

#define KEY_MAX 320

struct ctxn {
    struct gw_txn *l;
    uint64_t handle;
    char key[KEY_MAX]; /* branch "|" method */
    gw_txn_cb *cb;
    void *arg;
    bool done;
    struct event *timer_f;
};

enum stxn_state { ST_OPEN = 0, ST_ANSWERED };

struct gw_stxn {
    struct gw_txn *l;
    enum stxn_state state;
    char key[KEY_MAX];
    uint64_t conn_id;
    struct gw_sip_msg *req;
    gw_stxn_abandon_cb *owner_cb;
    void *owner_arg;
    char *final;
    size_t final_len;
    struct event *timer; /* OPEN: the layer's own deadline; ANSWERED: Timer J */
    TAILQ_ENTRY(gw_stxn) link;
};

struct gw_txn {
    struct event_base *base;
    struct gw_transport *tp;
    unsigned t1_ms;
    struct gw_strmap *clients; /* key -> struct ctxn */
    struct ipc_idmap *handles; /* handle -> struct ctxn */
    uint64_t next_handle;
    struct gw_strmap *servers; /* key -> struct gw_stxn */
    TAILQ_HEAD(, gw_stxn) all_servers;
    const struct timeval *tv_f, *tv_open, *tv_j; /* common timeouts */
    struct event *reaper;                        /* deferred client callbacks */
    struct gw_txn_counters ctr;
};

static const char *const method_names[GW_TXN_METHODS] = {
    "MESSAGE", "SUBSCRIBE", "NOTIFY", "PUBLISH",  "OPTIONS", "INVITE",
    "ACK",     "BYE",       "CANCEL", "REGISTER", "INFO",    "other",
};

const char *gw_txn_method_name(unsigned i)
{
    return i < GW_TXN_METHODS ? method_names[i] : method_names[GW_TXN_METHODS - 1];
}

static void count_request(struct gw_txn *l, bool out, const char *method)
{
    unsigned i = 0;
    while (i < GW_TXN_METHODS - 1 && (method == NULL || strcmp(method_names[i], method) != 0))
        i++;
    l->ctr.requests[out][i]++;
}

static void count_response(struct gw_txn *l, bool out, int code)
{
    if (code >= 100 && code < 700)
        l->ctr.responses[out][code / 100 - 1]++;
}

static void make_key(char *key, const char *branch, const char *method)
{
    snprintf(key, KEY_MAX, "%s|%s", branch ? branch : "", method ? method : "");
}

static const struct timeval *common_tv(struct event_base *base, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    const struct timeval *c = event_base_init_common_timeout(base, &tv);
    static struct timeval fallback[3];
    static int nf;
    if (c)
        return c;
    fallback[nf % 3] = tv;
    return &fallback[nf++ % 3];
}

struct gw_txn *gw_txn_new(struct event_base *base, struct gw_transport *tp, unsigned t1_ms)
{
    struct gw_txn *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->base = base;
    l->tp = tp;
    l->t1_ms = t1_ms ? t1_ms : 500;
    l->clients = gw_strmap_new(1024);
    l->servers = gw_strmap_new(1024);
    l->handles = ipc_idmap_new(1024);
    TAILQ_INIT(&l->all_servers);
    l->tv_f = common_tv(base, 64 * l->t1_ms);
    l->tv_open = common_tv(base, 60 * l->t1_ms);
    l->tv_j = common_tv(base, 4 * l->t1_ms + 1);
    if (l->clients == NULL || l->servers == NULL || l->handles == NULL) {
        gw_txn_free(l);
        return NULL;
    }
    return l;
}

/* ---- client ------------------------------------------------------------- */

static void ctxn_free(struct ctxn *c)
{
    gw_strmap_del(c->l->clients, c->key);
    ipc_idmap_del(c->l->handles, c->handle);
    if (c->timer_f)
        event_free(c->timer_f);
    free(c);
}

static void timer_f_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ctxn *c = arg;
    (void)fd;
    (void)what;
    c->l->ctr.client_timeouts++;
    gw_txn_cb *cb = c->cb;
    void *cbarg = c->arg;
    log_info("event=sip-timeout txn=%s", c->key);
    ctxn_free(c);
    if (cb)
        cb(cbarg, NULL);
}

uint64_t gw_txn_client(struct gw_txn *l, const char *branch, const char *method, const char *bytes,
                       size_t len, gw_txn_cb *cb, void *arg)
{
    struct ctxn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return 0;
    c->l = l;
    make_key(c->key, branch, method);
    if (gw_strmap_get(l->clients, c->key) != NULL) {
        free(c);
        return 0;
    }
    c->handle = ++l->next_handle;
    c->cb = cb;
    c->arg = arg;
    c->timer_f = evtimer_new(l->base, timer_f_cb, c);
    if (c->timer_f == NULL || gw_strmap_put(l->clients, c->key, c) != 0) {
        if (c->timer_f)
            event_free(c->timer_f);
        free(c);
        return 0;
    }
    if (ipc_idmap_put(l->handles, c->handle, c) != 0) {
        gw_strmap_del(l->clients, c->key);
        event_free(c->timer_f);
        free(c);
        return 0;
    }
    l->ctr.client_started++;
    count_request(l, true, method);
    if (gw_transport_send(l->tp, bytes, len) != 0) {
        /* Reported as a timeout, from the loop: never from inside this call. */
        log_info("event=sip-send-failed txn=%s errno=%d", c->key, errno);
        struct timeval now = {0, 0};
        evtimer_add(c->timer_f, &now);
        return c->handle;
    }
    evtimer_add(c->timer_f, l->tv_f);
    return c->handle;
}

void gw_txn_client_forget(struct gw_txn *l, uint64_t handle)
{
    struct ctxn *c = handle ? ipc_idmap_get(l->handles, handle) : NULL;
    if (c)
        c->cb = NULL;
}

void gw_txn_response(struct gw_txn *l, struct gw_sip_msg *resp)
{
    char key[KEY_MAX];
    count_response(l, false, gw_sip_status(resp));
    make_key(key, gw_sip_via_branch(resp), gw_sip_cseq_method(resp));
    struct ctxn *c = gw_strmap_get(l->clients, key);
    if (c == NULL) {
        l->ctr.stray_responses++;
        log_debug("event=sip-stray-response code=%d txn=%s", gw_sip_status(resp), key);
        gw_sip_msg_free(resp);
        return;
    }
    if (gw_sip_status(resp) < 200) {
        gw_sip_msg_free(resp);
        return; /* Proceeding: Timer F keeps running (section 17.1.2.2) */
    }
    gw_txn_cb *cb = c->cb;
    void *arg = c->arg;
    ctxn_free(c);
    if (cb)
        cb(arg, resp);
    gw_sip_msg_free(resp);
}

/* ---- server ------------------------------------------------------------- */

static void stxn_free(struct gw_stxn *st)
{
    struct gw_txn *l = st->l;
    if (gw_strmap_get(l->servers, st->key) == st)
        gw_strmap_del(l->servers, st->key);
    TAILQ_REMOVE(&l->all_servers, st, link);
    if (st->timer)
        event_free(st->timer);
    gw_sip_msg_free(st->req);
    free(st->final);
    free(st);
}

static void stxn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gw_stxn *st = arg;
    (void)fd;
    (void)what;
    if (st->state == ST_ANSWERED) {
        stxn_free(st); /* Timer J */
        return;
    }
    /* Nobody answered in time: answer before the client gives up. */
    st->l->ctr.abandoned++;
    gw_stxn_abandon_cb *cb = st->owner_cb;
    void *arg2 = st->owner_arg;
    log_info("event=sip-server-timeout txn=%s", st->key);
    gw_stxn_reply(st->l, st, 500, "Gateway Timeout");
    if (cb)
        cb(arg2, st);
}

static void send_bytes(struct gw_txn *l, uint64_t conn_id, const char *b, size_t n)
{
    if (gw_transport_reply(l->tp, conn_id, b, n) != 0)
        log_info("event=sip-reply-failed errno=%d", errno);
}

static void reply_stateless(struct gw_txn *l, uint64_t conn_id, const struct gw_sip_msg *req,
                            int code)
{
    struct gw_sip_response r = {
        .code = code, .to_tag = NULL, .expires = -1, .min_expires = -1, .retry_after = -1};
    char tag[16];
    if (gw_sip_to_tag(req) == NULL && gw_sip_random_token(tag, sizeof(tag)) == 0)
        r.to_tag = tag;
    size_t len;
    char *b = gw_sip_response_build(req, &r, &len, NULL);
    if (b) {
        count_response(l, true, code);
        send_bytes(l, conn_id, b, len);
        free(b);
    }
}

struct gw_stxn *gw_txn_server(struct gw_txn *l, uint64_t conn_id, struct gw_sip_msg *req)
{
    const char *method = gw_sip_method(req);
    const char *branch = gw_sip_via_branch(req);
    char key[KEY_MAX];
    count_request(l, false, method);

    if (strcmp(method, "ACK") == 0) {
        gw_sip_msg_free(req); /* only INVITE has ACKs; the gateway answered 405 to it */
        return NULL;
    }
    if (strcmp(method, "CANCEL") == 0) {
        /* Section 9.2: matches a transaction by branch; for a non-INVITE
         * transaction CANCEL has no effect, but it is answered. */
        bool found = false;
        static const char *const methods[] = {"MESSAGE", "SUBSCRIBE", "NOTIFY", "OPTIONS",
                                              "INVITE"};
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && !found; i++) {
            make_key(key, branch, methods[i]);
            found = gw_strmap_get(l->servers, key) != NULL;
        }
        reply_stateless(l, conn_id, req, found ? 200 : 481);
        gw_sip_msg_free(req);
        return NULL;
    }
    make_key(key, branch, method);
    struct gw_stxn *old = gw_strmap_get(l->servers, key);
    if (old) {
        l->ctr.retransmissions++;
        if (old->state == ST_ANSWERED && old->final)
            send_bytes(l, conn_id, old->final, old->final_len);
        else
            old->conn_id = conn_id; /* answer on the newest connection */
        gw_sip_msg_free(req);
        return NULL;
    }
    struct gw_stxn *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        reply_stateless(l, conn_id, req, 500);
        gw_sip_msg_free(req);
        return NULL;
    }
    st->l = l;
    memcpy(st->key, key, KEY_MAX);
    st->conn_id = conn_id;
    st->req = req;
    st->timer = evtimer_new(l->base, stxn_timer_cb, st);
    TAILQ_INSERT_TAIL(&l->all_servers, st, link);
    if (st->timer == NULL || gw_strmap_put(l->servers, st->key, st) != 0) {
        st->req = NULL;
        stxn_free(st);
        reply_stateless(l, conn_id, req, 500);
        gw_sip_msg_free(req);
        return NULL;
    }
    evtimer_add(st->timer, l->tv_open);
    l->ctr.server_started++;
    return st;
}

const struct gw_sip_msg *gw_stxn_request(const struct gw_stxn *st)
{
    return st->req;
}

void gw_stxn_set_owner(struct gw_stxn *st, gw_stxn_abandon_cb *cb, void *arg)
{
    st->owner_cb = cb;
    st->owner_arg = arg;
}

int gw_stxn_respond(struct gw_txn *l, struct gw_stxn *st, const struct gw_sip_response *r)
{
    struct gw_sip_response rr = *r;
    char tag[16];
    if (rr.to_tag == NULL && r->code > 100 && gw_sip_to_tag(st->req) == NULL &&
        gw_sip_random_token(tag, sizeof(tag)) == 0)
        rr.to_tag = tag;
    size_t len = 0;
    const char *why = NULL;
    char *b = gw_sip_response_build(st->req, &rr, &len, &why);
    int rc = 0;
    if (b == NULL) {
        log_info("event=sip-response-build-failed code=%d reason=\"%s\"", r->code, why ? why : "?");
        rc = -1;
    } else {
        count_response(l, true, r->code);
        rc = gw_transport_reply(l->tp, st->conn_id, b, len);
    }
    if (r->code < 200) {
        free(b);
        return rc;
    }
    /* Completed: keep the response for retransmissions (Timer J). */
    st->state = ST_ANSWERED;
    st->owner_cb = NULL;
    free(st->final);
    st->final = b;
    st->final_len = len;
    gw_sip_msg_free(st->req);
    st->req = NULL;
    evtimer_del(st->timer);
    evtimer_add(st->timer, l->tv_j);
    return rc;
}

int gw_stxn_reply(struct gw_txn *l, struct gw_stxn *st, int code, const char *reason)
{
    struct gw_sip_response r = {
        .code = code, .reason = reason, .expires = -1, .min_expires = -1, .retry_after = -1};
    return gw_stxn_respond(l, st, &r);
}

void gw_txn_counters(const struct gw_txn *l, struct gw_txn_counters *out)
{
    *out = l->ctr;
    out->client_open = gw_strmap_count(l->clients);
    out->server_open = gw_strmap_count(l->servers);
}

static void free_client(const char *key, void *val, void *arg)
{
    (void)key;
    (void)arg;
    struct ctxn *c = val;
    if (c->timer_f)
        event_free(c->timer_f);
    free(c);
}

void gw_txn_free(struct gw_txn *l)
{
    if (l == NULL)
        return;
    if (l->clients)
        gw_strmap_each(l->clients, free_client, NULL);
    gw_strmap_free(l->clients);
    l->clients = NULL;
    while (!TAILQ_EMPTY(&l->all_servers)) {
        struct gw_stxn *st = TAILQ_FIRST(&l->all_servers);
        TAILQ_REMOVE(&l->all_servers, st, link);
        if (st->timer)
            event_free(st->timer);
        gw_sip_msg_free(st->req);
        free(st->final);
        free(st);
    }
    gw_strmap_free(l->servers);
    ipc_idmap_free(l->handles);
    free(l);
}
