
/*
 * Copyright (C) Kianax
 *
 * bench/fanout's load client: N WebSocket connections on one epoll loop,
 * each subscribed to K symbols, counting the quotes they receive and the
 * publish-to-receive latency of each (the publisher writes
 * "sent_ns":<CLOCK_MONOTONIC ns> into every quote; same machine, same
 * clock).  Built by bench/fanout with "cc -O2"; libc only.
 *
 * The client must cost less than the server it measures: one 256 KiB read
 * per ready socket and wakeup, many frames parsed per read, one clock read
 * per read (all the frames of one read share a receive time).
 *
 *   fanout_client -p PORT -s SYM,SYM,... [-n 1000] [-k 5] [-u PATH]
 *                 [-t TOKENFILE | -T TOKEN] [-A] [-Q] [-c 64] [-w PACE_US]
 *   fanout_client --selftest        (TAP: SHA-1, framing, histogram)
 *
 * Client i subscribes to symbols (5i + j) mod S, j < K: with S = 50 and
 * K = 5, each symbol has exactly N K / S subscribers.
 *
 * stdin, one command a line:
 *   reset                  zero the counters and the histogram
 *   report                 print a "report ..." line now
 *   drain QUIET_MS MAX_MS  report once no quote came for QUIET_MS (or
 *                          MAX_MS passed): the tail of a step
 *   quit
 * stdout: "ready open=N failed=F ..." once every handshake ended, then
 * one "report key=value ..." line per report.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fanout_ws.h"


#define FC_READ_BUF       (256 * 1024)
#define FC_MAX_FRAME      (FC_READ_BUF / 2)
#define FC_MAX_EVENTS     512
#define FC_MAX_SYMBOLS    256

#define FC_CONNECTING     1
#define FC_HANDSHAKE      2
#define FC_OPEN           3
#define FC_CLOSED         4

/* histogram (us): below 128 exact, then 64 buckets per power of two */
#define FC_H_SUB          64
#define FC_H_SIZE         (FC_H_SUB * 40)    /* to 2^45 us */


typedef struct {
    int        fd;
    int        state;
    int        closing;
    int        idx;
    int        msg_op;
    char       key[32];
    char      *out;
    size_t     out_len;
    size_t     out_pos;
    size_t     out_cap;
    char      *in;
    size_t     in_len;
    size_t     in_cap;
    char      *msg;
    size_t     msg_len;
    size_t     msg_cap;
} fc_conn_t;


typedef struct {
    uint64_t   counts[FC_H_SIZE];
    uint64_t   total;
    uint64_t   max;
} fc_hist_t;


typedef struct {
    uint64_t   quotes;
    uint64_t   other;
    uint64_t   frames;
    uint64_t   bytes;
    uint64_t   reads;
    uint64_t   pings;
    uint64_t   closed;
    uint64_t   errors;
    uint64_t   bad;
    int64_t    last_rx_ns;
    int64_t    start_ns;
    struct rusage  ru;
} fc_stats_t;


static const char  *fc_host = "127.0.0.1";
static int          fc_port;
static const char  *fc_path = "/v1/market/stream";
static int          fc_nconns = 1000;
static int          fc_per_client = 5;
static int          fc_max_pending = 64;
static int          fc_auth_header = 1;
static int          fc_token_arg = 1;
static int64_t      fc_pace_ns;
static char       **fc_tokens;
static int          fc_ntokens;
static char        *fc_symbols[FC_MAX_SYMBOLS];
static int          fc_nsymbols;

static int          fc_ep;
static fc_conn_t   *fc_conns;
static char        *fc_buf;
static fc_hist_t    fc_hist;
static fc_stats_t   fc_st;
static uint64_t     fc_rng = 0x9e3779b97f4a7c15ULL;
static int          fc_open;
static int          fc_failed;
static int          fc_started;
static int          fc_next;
static char         fc_first_error[256];


static int64_t
fc_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static uint64_t
fc_rand(void)
{
    /* xorshift64*: masks and keys need no cryptographic strength here */
    fc_rng ^= fc_rng >> 12;
    fc_rng ^= fc_rng << 25;
    fc_rng ^= fc_rng >> 27;
    return fc_rng * 0x2545f4914f6cdd1dULL;
}


/* histogram */

static int
fc_hist_index(uint64_t v)
{
    int  msb, shift;

    if (v < 2 * FC_H_SUB) {
        return (int) v;
    }

    msb = 63 - __builtin_clzll(v);
    shift = msb - 6;

    return (shift + 1) * FC_H_SUB + (int) (v >> shift) - FC_H_SUB;
}


/* the highest value that falls into bucket i */
static uint64_t
fc_hist_upper(int i)
{
    int       shift;
    uint64_t  top;

    if (i < 2 * FC_H_SUB) {
        return (uint64_t) i;
    }

    shift = i / FC_H_SUB - 1;
    top = (uint64_t) (i % FC_H_SUB + FC_H_SUB);

    return ((top + 1) << shift) - 1;
}


static void
fc_hist_add(fc_hist_t *h, uint64_t v)
{
    int  i;

    i = fc_hist_index(v);
    if (i >= FC_H_SIZE) {
        i = FC_H_SIZE - 1;
    }

    h->counts[i]++;
    h->total++;

    if (v > h->max) {
        h->max = v;
    }
}


static uint64_t
fc_hist_pct(fc_hist_t *h, double pct)
{
    int       i;
    uint64_t  want, seen, v;

    if (h->total == 0) {
        return 0;
    }

    want = (uint64_t) (pct / 100.0 * (double) h->total + 0.999999);
    if (want == 0) {
        want = 1;
    }

    seen = 0;

    for (i = 0; i < FC_H_SIZE; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            v = fc_hist_upper(i);
            return v < h->max ? v : h->max;
        }
    }

    return h->max;
}


/* connections */

static int
fc_grow(char **buf, size_t *cap, size_t need)
{
    char    *p;
    size_t   n;

    if (need <= *cap) {
        return 0;
    }

    n = *cap ? *cap : 256;
    while (n < need) {
        n *= 2;
    }

    p = realloc(*buf, n);
    if (p == NULL) {
        return -1;
    }

    *buf = p;
    *cap = n;
    return 0;
}


static void
fc_fail(fc_conn_t *c, const char *fmt, const char *detail)
{
    if (fc_first_error[0] == '\0') {
        snprintf(fc_first_error, sizeof(fc_first_error), fmt, detail);
    }

    if (c->state == FC_OPEN) {
        fc_open--;
        fc_st.errors++;

    } else if (c->state != FC_CLOSED) {
        fc_failed++;
    }

    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }

    c->state = FC_CLOSED;
}


static void
fc_close(fc_conn_t *c)
{
    if (c->state == FC_OPEN) {
        fc_open--;
        fc_st.closed++;
    }

    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }

    c->state = FC_CLOSED;
}


static void
fc_want_write(fc_conn_t *c, int on)
{
    struct epoll_event  ev;

    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.ptr = c;
    epoll_ctl(fc_ep, EPOLL_CTL_MOD, c->fd, &ev);
}


static int
fc_flush(fc_conn_t *c)
{
    ssize_t  n;

    while (c->out_pos < c->out_len) {
        n = write(c->fd, c->out + c->out_pos, c->out_len - c->out_pos);

        if (n > 0) {
            c->out_pos += n;
            continue;
        }

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n < 0 && errno == EAGAIN) {
            fc_want_write(c, 1);
            return 0;
        }

        fc_fail(c, "write: %s", strerror(errno));
        return -1;
    }

    if (c->out_len) {
        c->out_len = c->out_pos = 0;
        fc_want_write(c, 0);
    }

    return 0;
}


static int
fc_queue(fc_conn_t *c, const void *data, size_t len)
{
    if (fc_grow(&c->out, &c->out_cap, c->out_len + len) != 0) {
        return -1;
    }

    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}


/* a masked client frame (RFC 6455 5.3) */
static size_t
fc_frame(char *dst, int op, const char *payload, size_t len)
{
    size_t         i, n;
    uint32_t       r;
    unsigned char  *p, mask[4];

    p = (unsigned char *) dst;
    n = 0;
    p[n++] = (unsigned char) (0x80 | op);

    if (len < 126) {
        p[n++] = (unsigned char) (0x80 | len);

    } else {
        p[n++] = 0x80 | 126;
        p[n++] = (unsigned char) (len >> 8);
        p[n++] = (unsigned char) len;
    }

    r = (uint32_t) fc_rand();
    memcpy(mask, &r, 4);
    memcpy(p + n, mask, 4);
    n += 4;

    for (i = 0; i < len; i++) {
        p[n + i] = (unsigned char) payload[i] ^ mask[i & 3];
    }

    return n + len;
}


static int
fc_send_frame(fc_conn_t *c, int op, const char *payload, size_t len)
{
    char  frame[65536 + 16];

    if (len > 65535) {
        return -1;
    }

    if (fc_queue(c, frame, fc_frame(frame, op, payload, len)) != 0) {
        return -1;
    }

    return fc_flush(c);
}


static int
fc_subscribe(fc_conn_t *c)
{
    int     j, s;
    char    msg[2048];
    size_t  n;

    n = snprintf(msg, sizeof(msg), "{\"action\":\"subscribe\",\"symbols\":[");

    for (j = 0; j < fc_per_client; j++) {
        s = (c->idx * fc_per_client + j) % fc_nsymbols;
        n += snprintf(msg + n, sizeof(msg) - n, "%s\"%s\"", j ? "," : "",
                      fc_symbols[s]);
    }

    n += snprintf(msg + n, sizeof(msg) - n, "]}");

    return fc_send_frame(c, 1, msg, n);
}


static void
fc_start(fc_conn_t *c)
{
    int                 one, rc;
    char                req[8192];
    size_t              n;
    const char         *tok;
    unsigned char       raw[16];
    struct sockaddr_in  sin;
    struct epoll_event  ev;
    uint64_t            r1, r2;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fc_fail(c, "socket: %s", strerror(errno));
        return;
    }

    one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(fc_port);
    inet_pton(AF_INET, fc_host, &sin.sin_addr);

    rc = connect(c->fd, (struct sockaddr *) &sin, sizeof(sin));
    if (rc < 0 && errno != EINPROGRESS) {
        fc_fail(c, "connect: %s", strerror(errno));
        return;
    }

    r1 = fc_rand();
    r2 = fc_rand();
    memcpy(raw, &r1, 8);
    memcpy(raw + 8, &r2, 8);
    fc_base64(raw, 16, c->key);

    tok = fc_ntokens ? fc_tokens[c->idx % fc_ntokens] : NULL;

    n = snprintf(req, sizeof(req),
                 "GET %s%s%s%s HTTP/1.1\r\n"
                 "Host: %s:%d\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n",
                 fc_path,
                 (tok && fc_token_arg) ? (strchr(fc_path, '?') ? "&" : "?")
                                       : "",
                 (tok && fc_token_arg) ? "token=" : "",
                 (tok && fc_token_arg) ? tok : "",
                 fc_host, fc_port, c->key);

    if (tok && fc_auth_header) {
        n += snprintf(req + n, sizeof(req) - n,
                      "Authorization: Bearer %s\r\n", tok);
    }

    n += snprintf(req + n, sizeof(req) - n, "\r\n");

    if (fc_queue(c, req, n) != 0) {
        fc_fail(c, "%s", "out of memory");
        return;
    }

    c->state = FC_CONNECTING;

    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(fc_ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        fc_fail(c, "epoll_ctl: %s", strerror(errno));
        return;
    }

    fc_started++;
}


static int
fc_header_is(const char *head, const char *name, const char *value)
{
    size_t       nl, vl;
    const char  *p, *e;

    nl = strlen(name);
    vl = strlen(value);

    for (p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) != 0 || p[2 + nl] != ':') {
            continue;
        }

        p += 3 + nl;
        while (*p == ' ' || *p == '\t') {
            p++;
        }

        e = strstr(p, "\r\n");
        if (e == NULL) {
            e = p + strlen(p);
        }

        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        return (size_t) (e - p) == vl && strncasecmp(p, value, vl) == 0;
    }

    return 0;
}


static void fc_frames(fc_conn_t *c, char *p, size_t len, int64_t now);


static void
fc_handshake_read(fc_conn_t *c)
{
    char     *end, accept[32], line[128];
    size_t    head;
    ssize_t   n;

    if (fc_grow(&c->in, &c->in_cap, c->in_len + 4097) != 0) {
        fc_fail(c, "%s", "out of memory");
        return;
    }

    n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }

    if (n <= 0) {
        fc_fail(c, "handshake: %s", n == 0 ? "connection closed"
                                           : strerror(errno));
        return;
    }

    c->in_len += n;
    c->in[c->in_len] = '\0';

    end = strstr(c->in, "\r\n\r\n");
    if (end == NULL) {
        if (c->in_len > 16384) {
            fc_fail(c, "%s", "handshake: response head too long");
        }
        return;
    }

    head = end + 4 - c->in;
    end[2] = '\0';

    if (strncmp(c->in, "HTTP/1.1 101", 12) != 0) {
        snprintf(line, sizeof(line), "%.*s", (int) strcspn(c->in, "\r\n"),
                 c->in);
        fc_fail(c, "handshake refused: %s", line);
        return;
    }

    fc_ws_accept(c->key, accept);

    if (!fc_header_is(c->in, "Sec-WebSocket-Accept", accept)
        || !fc_header_is(c->in, "Upgrade", "websocket"))
    {
        fc_fail(c, "%s", "handshake: bad Sec-WebSocket-Accept or Upgrade");
        return;
    }

    c->state = FC_OPEN;
    fc_open++;

    /* frames that came with the response head */
    c->in_len -= head;
    memmove(c->in, c->in + head, c->in_len);

    if (fc_subscribe(c) != 0 || c->state != FC_OPEN) {
        return;
    }

    if (c->in_len) {
        n = c->in_len;
        c->in_len = 0;
        memcpy(fc_buf, c->in, n);
        fc_frames(c, fc_buf, n, fc_now());
    }
}


/* one message: count the quotes in it ("sent_ns" of each) */
static void
fc_message(const char *p, size_t len, int64_t now)
{
    int64_t      sent;
    const char  *q, *e;

    e = p + len;
    q = memmem(p, len, "\"sent_ns\":", 10);

    if (q == NULL) {
        fc_st.other++;
        return;
    }

    do {
        q += 10;
        while (q < e && *q == ' ') {
            q++;
        }

        sent = 0;
        while (q < e && *q >= '0' && *q <= '9') {
            sent = sent * 10 + (*q++ - '0');
        }

        fc_st.quotes++;
        fc_hist_add(&fc_hist, now > sent ? (uint64_t) (now - sent) / 1000
                                         : 0);

        q = memmem(q, e - q, "\"sent_ns\":", 10);

    } while (q != NULL);
}


/* parses the server frames in p[0..len); keeps a partial one in c->in */
static void
fc_frames(fc_conn_t *c, char *p, size_t len, int64_t now)
{
    int             fin, op, i;
    char           *end, *pl;
    size_t          hdr;
    uint64_t        plen;
    unsigned char  *u;

    end = p + len;

    while (end - p >= 2) {
        u = (unsigned char *) p;
        fin = u[0] & 0x80;
        op = u[0] & 0x0f;
        plen = u[1] & 0x7f;
        hdr = 2;

        if (u[0] & 0x70) {
            fc_st.bad++;
            fc_fail(c, "%s", "frame with RSV bits");
            return;
        }

        if (plen == 126) {
            if (end - p < 4) {
                break;
            }
            plen = (uint64_t) u[2] << 8 | u[3];
            hdr = 4;

        } else if (plen == 127) {
            if (end - p < 10) {
                break;
            }
            plen = 0;
            for (i = 0; i < 8; i++) {
                plen = plen << 8 | u[2 + i];
            }
            hdr = 10;
        }

        if (u[1] & 0x80) {
            /* RFC 6455 5.1: a server never masks */
            fc_st.bad++;
            fc_fail(c, "%s", "masked frame from the server");
            return;
        }

        if (plen > FC_MAX_FRAME) {
            fc_st.bad++;
            fc_fail(c, "%s", "frame too large for the bench client");
            return;
        }

        if ((uint64_t) (end - p) < hdr + plen) {
            break;
        }

        pl = p + hdr;
        p += hdr + plen;
        fc_st.frames++;

        switch (op) {

        case 0x1:
        case 0x2:
            if (c->msg_op) {
                fc_st.bad++;
                fc_fail(c, "%s", "new message inside a fragmented one");
                return;
            }

            if (fin) {
                fc_message(pl, plen, now);
                break;
            }

            c->msg_op = op;
            c->msg_len = 0;
            /* fall through */

        case 0x0:
            if (c->msg_op == 0) {
                fc_st.bad++;
                fc_fail(c, "%s", "continuation without a message");
                return;
            }

            if (fc_grow(&c->msg, &c->msg_cap, c->msg_len + plen) != 0) {
                fc_fail(c, "%s", "out of memory");
                return;
            }

            memcpy(c->msg + c->msg_len, pl, plen);
            c->msg_len += plen;

            if (fin) {
                fc_message(c->msg, c->msg_len, now);
                c->msg_op = 0;
            }

            break;

        case 0x8:
            if (!c->closing) {
                c->closing = 1;
                fc_send_frame(c, 0x8, pl, plen >= 2 ? 2 : 0);
            }
            fc_close(c);
            return;

        case 0x9:
            fc_st.pings++;
            if (fc_send_frame(c, 0xa, pl, plen) != 0) {
                return;
            }
            break;

        case 0xa:
            break;

        default:
            fc_st.bad++;
            fc_fail(c, "%s", "unknown opcode");
            return;
        }

        if (c->state != FC_OPEN) {
            return;
        }
    }

    c->in_len = end - p;

    if (c->in_len) {
        if (fc_grow(&c->in, &c->in_cap, c->in_len) != 0) {
            fc_fail(c, "%s", "out of memory");
            return;
        }
        memcpy(c->in, p, c->in_len);
    }
}


static void
fc_read(fc_conn_t *c)
{
    size_t   have;
    ssize_t  n;
    int64_t  now;

    have = c->in_len;
    if (have) {
        memcpy(fc_buf, c->in, have);
    }

    n = read(c->fd, fc_buf + have, FC_READ_BUF - have);

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }

    if (n <= 0) {
        if (n == 0) {
            fc_close(c);
        } else {
            fc_fail(c, "read: %s", strerror(errno));
        }
        return;
    }

    now = fc_now();
    fc_st.reads++;
    fc_st.bytes += n;
    fc_st.last_rx_ns = now;
    c->in_len = 0;

    fc_frames(c, fc_buf, have + n, now);
}


static void
fc_event(fc_conn_t *c, uint32_t events)
{
    int        err;
    socklen_t  len;

    if (c->state == FC_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }

        err = 0;
        len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fc_fail(c, "connect: %s", strerror(err));
            return;
        }

        c->state = FC_HANDSHAKE;
        if (fc_flush(c) != 0) {
            return;
        }
        if (c->out_len == 0) {
            fc_want_write(c, 0);
        }
        return;
    }

    if (events & EPOLLOUT) {
        if (fc_flush(c) != 0) {
            return;
        }
    }

    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        return;
    }

    if (c->state == FC_HANDSHAKE) {
        fc_handshake_read(c);

    } else if (c->state == FC_OPEN) {
        fc_read(c);
    }
}


/* commands */

static void
fc_reset(void)
{
    memset(&fc_hist, 0, sizeof(fc_hist));
    memset(&fc_st, 0, sizeof(fc_st));
    fc_st.start_ns = fc_now();
    getrusage(RUSAGE_SELF, &fc_st.ru);
}


static int64_t
fc_tv_us(struct timeval *tv)
{
    return (int64_t) tv->tv_sec * 1000000 + tv->tv_usec;
}


static void
fc_report(void)
{
    int64_t        now;
    struct rusage  ru;

    now = fc_now();
    getrusage(RUSAGE_SELF, &ru);

    printf("report quotes=%llu other=%llu frames=%llu bytes=%llu reads=%llu"
           " elapsed_s=%.3f last_rx_age_ms=%.1f"
           " p50_us=%llu p90_us=%llu p99_us=%llu p999_us=%llu max_us=%llu"
           " utime_us=%lld stime_us=%lld open=%d closed=%llu errors=%llu"
           " bad=%llu pings=%llu\n",
           (unsigned long long) fc_st.quotes,
           (unsigned long long) fc_st.other,
           (unsigned long long) fc_st.frames,
           (unsigned long long) fc_st.bytes,
           (unsigned long long) fc_st.reads,
           (now - fc_st.start_ns) / 1e9,
           fc_st.last_rx_ns ? (now - fc_st.last_rx_ns) / 1e6 : -1.0,
           (unsigned long long) fc_hist_pct(&fc_hist, 50),
           (unsigned long long) fc_hist_pct(&fc_hist, 90),
           (unsigned long long) fc_hist_pct(&fc_hist, 99),
           (unsigned long long) fc_hist_pct(&fc_hist, 99.9),
           (unsigned long long) fc_hist.max,
           (long long) (fc_tv_us(&ru.ru_utime) - fc_tv_us(&fc_st.ru.ru_utime)),
           (long long) (fc_tv_us(&ru.ru_stime) - fc_tv_us(&fc_st.ru.ru_stime)),
           fc_open,
           (unsigned long long) fc_st.closed,
           (unsigned long long) fc_st.errors,
           (unsigned long long) fc_st.bad,
           (unsigned long long) fc_st.pings);
    fflush(stdout);
}


static int64_t  fc_drain_quiet;
static int64_t  fc_drain_until;


/* returns 1 on "quit" */
static int
fc_command(char *line)
{
    long long  quiet, max;

    if (strcmp(line, "reset") == 0) {
        fc_reset();

    } else if (strcmp(line, "report") == 0) {
        fc_report();

    } else if (sscanf(line, "drain %lld %lld", &quiet, &max) == 2) {
        fc_drain_quiet = quiet * 1000000;
        fc_drain_until = fc_now() + max * 1000000;

    } else if (strcmp(line, "quit") == 0) {
        return 1;

    } else if (line[0]) {
        fprintf(stderr, "fanout_client: unknown command: %s\n", line);
    }

    return 0;
}


static int
fc_stdin(void)
{
    char           *nl, *p;
    ssize_t         n;
    static char     buf[4096];
    static size_t   len;

    n = read(0, buf + len, sizeof(buf) - 1 - len);
    if (n <= 0) {
        return 1;   /* the bench script went away */
    }

    len += n;
    buf[len] = '\0';
    p = buf;

    while ((nl = strchr(p, '\n')) != NULL) {
        *nl = '\0';
        if (fc_command(p)) {
            return 1;
        }
        p = nl + 1;
    }

    len -= p - buf;
    memmove(buf, p, len);
    return 0;
}


static int
fc_load_tokens(const char *file)
{
    FILE    *f;
    char     line[8192];
    size_t   n;

    f = fopen(file, "r");
    if (f == NULL) {
        perror(file);
        return -1;
    }

    while (fgets(line, sizeof(line), f)) {
        n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n == 0) {
            continue;
        }

        fc_tokens = realloc(fc_tokens, sizeof(char *) * (fc_ntokens + 1));
        if (fc_tokens == NULL) {
            fclose(f);
            return -1;
        }
        fc_tokens[fc_ntokens++] = strdup(line);
    }

    fclose(f);
    return 0;
}


static int
fc_parse_symbols(char *list)
{
    char  *s, *save;

    for (s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (fc_nsymbols == FC_MAX_SYMBOLS) {
            return -1;
        }
        fc_symbols[fc_nsymbols++] = s;
    }

    return fc_nsymbols ? 0 : -1;
}


static int fc_selftest(void);


static void
fc_usage(void)
{
    fprintf(stderr,
        "usage: fanout_client -p PORT -s SYM,SYM,... [-n conns] [-k per]"
        " [-u path] [-t tokenfile | -T token] [-A] [-Q] [-c pending]"
        " [-h host] [-w pace_us]\n"
        "       fanout_client --selftest\n");
}


int
main(int argc, char **argv)
{
    int                  i, n, opt, quit;
    int64_t              now, deadline, woke;
    struct rlimit        rl;
    struct timespec      ts;
    struct epoll_event   ev, evs[FC_MAX_EVENTS];

    if (argc == 2 && strcmp(argv[1], "--selftest") == 0) {
        return fc_selftest();
    }

    while ((opt = getopt(argc, argv, "p:s:n:k:u:t:T:AQc:h:w:")) != -1) {
        switch (opt) {
        case 'p': fc_port = atoi(optarg); break;
        case 's':
            if (fc_parse_symbols(optarg) != 0) {
                fc_usage();
                return 2;
            }
            break;
        case 'n': fc_nconns = atoi(optarg); break;
        case 'k': fc_per_client = atoi(optarg); break;
        case 'u': fc_path = optarg; break;
        case 't':
            if (fc_load_tokens(optarg) != 0) {
                return 2;
            }
            break;
        case 'T':
            fc_tokens = malloc(sizeof(char *));
            fc_tokens[0] = optarg;
            fc_ntokens = 1;
            break;
        case 'A': fc_auth_header = 0; break;
        case 'Q': fc_token_arg = 0; break;
        case 'c': fc_max_pending = atoi(optarg); break;
        case 'h': fc_host = optarg; break;
        case 'w': fc_pace_ns = atoll(optarg) * 1000; break;
        default:
            fc_usage();
            return 2;
        }
    }

    if (fc_port <= 0 || fc_nsymbols == 0 || fc_nconns <= 0
        || fc_per_client <= 0 || fc_per_client > fc_nsymbols)
    {
        fc_usage();
        return 2;
    }

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    fc_rng ^= (uint64_t) fc_now() ^ ((uint64_t) getpid() << 32);

    fc_buf = malloc(FC_READ_BUF);
    fc_conns = calloc(fc_nconns, sizeof(fc_conn_t));
    fc_ep = epoll_create1(EPOLL_CLOEXEC);

    if (fc_buf == NULL || fc_conns == NULL || fc_ep < 0) {
        perror("fanout_client");
        return 1;
    }

    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(fc_ep, EPOLL_CTL_ADD, 0, &ev);

    for (i = 0; i < fc_nconns; i++) {
        fc_conns[i].fd = -1;
        fc_conns[i].idx = i;
    }

    fc_reset();

    /* handshakes, at most fc_max_pending at a time */

    deadline = fc_now() + 30 * 1000000000LL;

    while (fc_open + fc_failed < fc_nconns && fc_now() < deadline) {
        while (fc_next < fc_nconns
               && fc_started - fc_open - fc_failed < fc_max_pending)
        {
            fc_start(&fc_conns[fc_next++]);
        }

        n = epoll_wait(fc_ep, evs, FC_MAX_EVENTS, 100);

        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                continue;   /* stdin waits for "ready" */
            }
            fc_event(evs[i].data.ptr, evs[i].events);
        }
    }

    for (i = 0; i < fc_nconns; i++) {
        if (fc_conns[i].state != FC_OPEN && fc_conns[i].state != FC_CLOSED) {
            fc_fail(&fc_conns[i], "%s", "handshake timed out");
        }
    }

    printf("ready open=%d failed=%d error=\"%s\"\n", fc_open, fc_failed,
           fc_first_error);
    fflush(stdout);

    fc_reset();
    quit = 0;
    woke = 0;

    while (!quit) {
        /*
         * Pacing: a wakeup costs more than the reads it does, so after a
         * small batch let the sockets fill for the rest of the interval
         * (adds at most fc_pace_ns to a latency; a full batch means the
         * client is behind, and it does not wait then).
         */
        if (fc_pace_ns && woke) {
            now = fc_now();
            if (now - woke < fc_pace_ns) {
                woke += fc_pace_ns;
                ts.tv_sec = woke / 1000000000;
                ts.tv_nsec = woke % 1000000000;
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            }
        }

        n = epoll_wait(fc_ep, evs, FC_MAX_EVENTS, fc_drain_until ? 10 : 1000);
        woke = (n > 0 && n < FC_MAX_EVENTS) ? fc_now() : 0;

        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                quit = fc_stdin();
                continue;
            }
            fc_event(evs[i].data.ptr, evs[i].events);
        }

        if (fc_drain_until) {
            now = fc_now();
            if (now >= fc_drain_until
                || (fc_st.last_rx_ns
                    && now - fc_st.last_rx_ns >= fc_drain_quiet))
            {
                fc_drain_until = 0;
                fc_report();
            }
        }
    }

    return 0;
}


/* --selftest: TAP */

static int  fc_t_n, fc_t_fail;


static void
fc_ok(int pass, const char *name)
{
    fc_t_n++;
    if (!pass) {
        fc_t_fail++;
    }
    printf("%sok %d - %s\n", pass ? "" : "not ", fc_t_n, name);
}


/* an unmasked server frame */
static size_t
fc_t_frame(char *dst, int fin, int op, const char *pl, size_t len)
{
    int             i;
    size_t          n;
    unsigned char  *p;

    p = (unsigned char *) dst;
    n = 0;
    p[n++] = (unsigned char) ((fin ? 0x80 : 0) | op);

    if (len < 126) {
        p[n++] = (unsigned char) len;

    } else if (len < 65536) {
        p[n++] = 126;
        p[n++] = (unsigned char) (len >> 8);
        p[n++] = (unsigned char) len;

    } else {
        p[n++] = 127;
        for (i = 7; i >= 0; i--) {
            p[n++] = (unsigned char) (len >> (8 * i));
        }
    }

    memcpy(p + n, pl, len);
    return n + len;
}


static int
fc_selftest(void)
{
    int             i, ok, sv[2];
    char            b64[64], big[70000], stream[200000], quote[512], rd[64];
    size_t          n, len, step;
    ssize_t         r;
    int64_t         now;
    fc_conn_t       c;
    unsigned char   d[20], m[4];

    /* SHA-1 and base64 against RFC 3174 and RFC 6455's own example */
    fc_sha1("abc", 3, d);
    fc_base64(d, 20, b64);
    fc_ok(strcmp(b64, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=") == 0, "sha1(abc)");

    memset(big, 'a', 1000);
    fc_sha1(big, 1000, d);
    fc_base64(d, 20, b64);
    fc_ok(strcmp(b64, "KR6abGaZSUm1e6XmUDYemPw2sbo=") == 0,
          "sha1 of 1000 bytes (several blocks)");

    fc_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", b64);
    fc_ok(strcmp(b64, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
          "Sec-WebSocket-Accept of RFC 6455 1.3");

    fc_base64((const unsigned char *) "ab", 2, b64);
    fc_ok(strcmp(b64, "YWI=") == 0, "base64 padding");

    /* histogram: buckets continuous, percentiles within 1.6 % */
    ok = 1;
    for (i = 1; i < FC_H_SIZE - 1; i++) {
        if (fc_hist_index(fc_hist_upper(i - 1) + 1) != i) {
            ok = 0;
        }
    }
    fc_ok(ok, "histogram buckets are contiguous");

    memset(&fc_hist, 0, sizeof(fc_hist));
    for (i = 1; i <= 100000; i++) {
        fc_hist_add(&fc_hist, (uint64_t) i);
    }
    fc_ok(fc_hist_pct(&fc_hist, 50) >= 50000
          && fc_hist_pct(&fc_hist, 50) <= 50800, "p50 of 1..100000");
    fc_ok(fc_hist_pct(&fc_hist, 99) >= 99000
          && fc_hist_pct(&fc_hist, 99) <= 100000, "p99 of 1..100000");
    fc_ok(fc_hist.max == 100000 && fc_hist_pct(&fc_hist, 100) == 100000,
          "max exact");

    /* frames split at every byte boundary, fragments, pings */
    memset(&fc_st, 0, sizeof(fc_st));
    memset(&fc_hist, 0, sizeof(fc_hist));
    fc_buf = malloc(FC_READ_BUF);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }

    memset(&c, 0, sizeof(c));
    c.fd = sv[0];
    c.state = FC_OPEN;
    fc_open = 1;

    now = 5000000000LL;
    len = 0;

    for (i = 0; i < 20; i++) {
        n = snprintf(quote, sizeof(quote),
                     "{\"type\":\"quote\",\"symbol\":\"AAPL\","
                     "\"price\":\"228.50\",\"sent_ns\":%lld}",
                     (long long) (now - (i + 1) * 1000000LL));
        len += fc_t_frame(stream + len, 1, 1, quote, n);
    }

    len += fc_t_frame(stream + len, 1, 9, "hi", 2);
    len += fc_t_frame(stream + len, 0, 1, "{\"type\":\"quote\",\"se", 19);
    len += fc_t_frame(stream + len, 1, 9, "", 0);
    len += fc_t_frame(stream + len, 1, 0, "nt_ns\":4999000000}", 18);
    len += fc_t_frame(stream + len, 1, 1, "{\"type\":\"subscribed\"}", 21);
    memset(big, 'x', sizeof(big));
    memcpy(big, "{\"a\":\"", 6);
    memcpy(big + sizeof(big) - 2, "\"}", 2);
    len += fc_t_frame(stream + len, 1, 1, big, sizeof(big));
    memcpy(quote, "[{\"sent_ns\":4998000000},{\"sent_ns\":4997000000}]", 48);
    len += fc_t_frame(stream + len, 1, 1, quote, 47);

    for (step = 1; step <= 7; step += 3) {
        memset(&fc_st, 0, sizeof(fc_st));
        memset(&fc_hist, 0, sizeof(fc_hist));
        c.in_len = 0;

        for (n = 0; n < len; n += step) {
            i = (int) c.in_len;
            if (i) {
                memcpy(fc_buf, c.in, i);
            }
            c.in_len = 0;
            r = (len - n < step) ? (ssize_t) (len - n) : (ssize_t) step;
            memcpy(fc_buf + i, stream + n, r);
            fc_frames(&c, fc_buf, i + r, now);
        }

        fc_ok(c.state == FC_OPEN && fc_st.quotes == 23 && fc_st.other == 2
              && fc_st.pings == 2 && c.in_len == 0,
              step == 1 ? "stream fed a byte at a time"
                        : "stream fed in small pieces");
    }

    fc_ok(fc_hist.max == 20000 && fc_hist_pct(&fc_hist, 50) >= 1000
          && fc_hist_pct(&fc_hist, 50) <= 12000,
          "latencies from sent_ns (us)");

    /* what the client wrote back: masked pongs */
    r = read(sv[1], rd, sizeof(rd));
    memcpy(m, rd + 2, 4);
    fc_ok(r >= 2 * 6 + 2 && (unsigned char) rd[0] == 0x8a
          && (unsigned char) rd[1] == (0x80 | 2)
          && (rd[6] ^ m[0]) == 'h' && (rd[7] ^ m[1]) == 'i',
          "ping answered with a masked pong");

    /* close: echoed, connection closed */
    n = fc_t_frame(stream, 1, 8, "\x03\xe8", 2);
    c.in_len = 0;
    memcpy(fc_buf, stream, n);
    fc_frames(&c, fc_buf, n, now);
    fc_ok(c.state == FC_CLOSED && fc_st.closed == 1, "close frame closes");

    r = read(sv[1], rd, sizeof(rd));
    fc_ok(r == 8 && (unsigned char) rd[0] == 0x88
          && ((rd[6] ^ rd[2]) & 0xff) == 0x03
          && ((rd[7] ^ rd[3]) & 0xff) == 0xe8, "close echoed with its code");

    /* a masked server frame is a protocol error */
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.state = FC_OPEN;
    fc_open = 1;
    memcpy(fc_buf, "\x81\x82\0\0\0\0ab", 8);
    fc_frames(&c, fc_buf, 8, now);
    fc_ok(c.state == FC_CLOSED && fc_st.bad == 1, "masked server frame");

    printf("1..%d\n", fc_t_n);
    return fc_t_fail ? 1 : 0;
}
