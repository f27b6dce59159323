
/*
 * Copyright (C) Kianax
 *
 * bench/fanout's baseline: the least a WebSocket fan-out server can do
 * per delivered quote on this machine.  One epoll loop; PSUBSCRIBE
 * kx:quote:* in Redis; each published message framed once and written to
 * each subscriber with one write() at once.  No token check, no queue
 * (a write the socket does not take whole closes the connection), no
 * coalescing, no pings: what remains is the kernel's cost of a loopback
 * TCP send (which carries the receiver's side of it too) plus a frame
 * header.  Not the product; libc only, built by bench/fanout.
 *
 *   fanout_floor LISTEN_PORT REDIS_PORT
 */


#define _GNU_SOURCE

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout_ws.h"


#define FF_MAX_SYMBOLS   256
#define FF_MAX_CONNS     65536
#define FF_REDIS_BUF     (1024 * 1024)


typedef struct {
    int         fd;
    int         open;
    size_t      in_len;
    char        in[4096];
} ff_conn_t;


typedef struct {
    char        name[16];
    int        *fds;
    int         n;
    int         cap;
} ff_sym_t;


static int         ff_ep;
static int         ff_redis = -1;
static int         ff_listen = -1;
static ff_sym_t    ff_syms[FF_MAX_SYMBOLS];
static int         ff_nsyms;
static ff_conn_t  *ff_conns[FF_MAX_CONNS];
static char        ff_rbuf[FF_REDIS_BUF];
static size_t      ff_rlen;
static char        ff_frame[FF_REDIS_BUF + 16];


static ff_sym_t *
ff_sym(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < ff_nsyms; i++) {
        if (strlen(ff_syms[i].name) == len
            && memcmp(ff_syms[i].name, name, len) == 0)
        {
            return &ff_syms[i];
        }
    }

    if (ff_nsyms == FF_MAX_SYMBOLS || len >= sizeof(ff_syms[0].name)) {
        return NULL;
    }

    memcpy(ff_syms[ff_nsyms].name, name, len);
    return &ff_syms[ff_nsyms++];
}


static void
ff_close(ff_conn_t *c)
{
    int  i, j;

    for (i = 0; i < ff_nsyms; i++) {
        for (j = 0; j < ff_syms[i].n; j++) {
            if (ff_syms[i].fds[j] == c->fd) {
                ff_syms[i].fds[j] = ff_syms[i].fds[--ff_syms[i].n];
                break;
            }
        }
    }

    ff_conns[c->fd] = NULL;
    close(c->fd);
    free(c);
}


/* {"action":"subscribe","symbols":["A","B"]}: adds c to each symbol */
static void
ff_subscribe(ff_conn_t *c, const char *p, size_t len)
{
    const char  *e, *q, *s;
    ff_sym_t    *sym;

    e = p + len;
    if (memmem(p, len, "\"subscribe\"", 11) == NULL) {
        return;
    }

    q = memmem(p, len, "\"symbols\"", 9);
    if (q == NULL) {
        return;
    }

    for (q += 9; q < e && *q != ']'; q++) {
        if (*q != '"') {
            continue;
        }

        s = ++q;
        while (q < e && *q != '"') {
            q++;
        }

        sym = ff_sym(s, q - s);
        if (sym == NULL) {
            continue;
        }

        if (sym->n == sym->cap) {
            sym->cap = sym->cap ? sym->cap * 2 : 64;
            sym->fds = realloc(sym->fds, sym->cap * sizeof(int));
        }

        sym->fds[sym->n++] = c->fd;
    }
}


static void
ff_client_read(ff_conn_t *c)
{
    int             op;
    char           *e, *k, accept[32], key[64], resp[256];
    size_t          i, hdr, plen, klen;
    ssize_t         n;
    unsigned char  *u, *m;

    n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        ff_close(c);
        return;
    }

    c->in_len += n;
    c->in[c->in_len] = '\0';

    if (!c->open) {
        e = strstr(c->in, "\r\n\r\n");
        if (e == NULL) {
            return;
        }

        k = strcasestr(c->in, "\r\nSec-WebSocket-Key:");
        if (k == NULL) {
            ff_close(c);
            return;
        }

        k += 20;
        k += strspn(k, " \t");
        klen = strcspn(k, " \t\r\n");
        if (klen >= sizeof(key)) {
            ff_close(c);
            return;
        }

        memcpy(key, k, klen);
        key[klen] = '\0';
        fc_ws_accept(key, accept);

        n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
        if (write(c->fd, resp, n) != n) {
            ff_close(c);
            return;
        }

        c->open = 1;
        c->in_len -= e + 4 - c->in;
        memmove(c->in, e + 4, c->in_len);
    }

    /* masked client frames, small ones only */
    for ( ;; ) {
        u = (unsigned char *) c->in;
        if (c->in_len < 2) {
            break;
        }

        op = u[0] & 0x0f;
        plen = u[1] & 0x7f;
        hdr = 2;

        if (plen == 126) {
            if (c->in_len < 4) {
                break;
            }
            plen = (size_t) u[2] << 8 | u[3];
            hdr = 4;

        } else if (plen == 127) {
            ff_close(c);
            return;
        }

        if (!(u[1] & 0x80) || hdr + 4 + plen > sizeof(c->in) - 1) {
            ff_close(c);
            return;
        }

        if (c->in_len < hdr + 4 + plen) {
            break;
        }

        m = u + hdr;
        for (i = 0; i < plen; i++) {
            u[hdr + 4 + i] ^= m[i & 3];
        }

        if (op == 0x1) {
            ff_subscribe(c, c->in + hdr + 4, plen);

        } else if (op == 0x8) {
            ff_close(c);
            return;
        }

        c->in_len -= hdr + 4 + plen;
        memmove(c->in, c->in + hdr + 4 + plen, c->in_len);
    }
}


/* one frame per message, one write() per subscriber */
static void
ff_publish(const char *channel, size_t clen, const char *msg, size_t mlen)
{
    int        i;
    size_t     hdr;
    ssize_t    n;
    ff_sym_t  *sym;

    if (clen <= 9 || memcmp(channel, "kx:quote:", 9) != 0) {
        return;
    }

    sym = ff_sym(channel + 9, clen - 9);
    if (sym == NULL || sym->n == 0) {
        return;
    }

    hdr = 0;
    ff_frame[hdr++] = (char) 0x81;

    if (mlen < 126) {
        ff_frame[hdr++] = (char) mlen;

    } else {
        ff_frame[hdr++] = 126;
        ff_frame[hdr++] = (char) (mlen >> 8);
        ff_frame[hdr++] = (char) mlen;
    }

    memcpy(ff_frame + hdr, msg, mlen);

    for (i = 0; i < sym->n; i++) {
        n = write(sym->fds[i], ff_frame, hdr + mlen);
        if (n != (ssize_t) (hdr + mlen)) {
            ff_close(ff_conns[sym->fds[i]]);
            i--;
        }
    }
}


/* a bulk string at p: its bytes, or NULL when incomplete */
static const char *
ff_bulk(const char **p, const char *e, size_t *len)
{
    const char  *nl, *s;

    nl = memchr(*p, '\n', e - *p);
    if (nl == NULL || **p != '$') {
        return NULL;
    }

    *len = strtoul(*p + 1, NULL, 10);
    s = nl + 1;
    if ((size_t) (e - s) < *len + 2) {
        return NULL;
    }

    *p = s + *len + 2;
    return s;
}


static void
ff_redis_read(void)
{
    int          nitems;
    size_t       l[4];
    ssize_t      n;
    const char  *p, *e, *q, *nl, *item[4];

    n = read(ff_redis, ff_rbuf + ff_rlen, sizeof(ff_rbuf) - ff_rlen);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        fprintf(stderr, "fanout_floor: redis went away\n");
        exit(1);
    }

    ff_rlen += n;
    p = ff_rbuf;
    e = ff_rbuf + ff_rlen;

    for ( ;; ) {
        q = p;
        nl = memchr(q, '\n', e - q);
        if (nl == NULL || *q != '*') {
            break;
        }

        nitems = atoi(q + 1);
        q = nl + 1;

        if (nitems == 3) {          /* psubscribe confirmation */
            if (ff_bulk(&q, e, &l[0]) == NULL
                || ff_bulk(&q, e, &l[1]) == NULL
                || (nl = memchr(q, '\n', e - q)) == NULL)
            {
                break;
            }
            p = nl + 1;
            continue;
        }

        if (nitems != 4
            || (item[0] = ff_bulk(&q, e, &l[0])) == NULL
            || (item[1] = ff_bulk(&q, e, &l[1])) == NULL
            || (item[2] = ff_bulk(&q, e, &l[2])) == NULL
            || (item[3] = ff_bulk(&q, e, &l[3])) == NULL)
        {
            break;
        }

        ff_publish(item[2], l[2], item[3], l[3]);
        p = q;
    }

    ff_rlen = e - p;
    memmove(ff_rbuf, p, ff_rlen);
}


int
main(int argc, char **argv)
{
    int                  i, n, fd, one;
    const char          *sub;
    ff_conn_t           *c;
    struct sockaddr_in   sin;
    struct epoll_event   ev, evs[512];

    if (argc != 3) {
        fprintf(stderr, "usage: fanout_floor LISTEN_PORT REDIS_PORT\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    one = 1;
    ff_ep = epoll_create1(0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    sin.sin_port = htons(atoi(argv[2]));
    ff_redis = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(ff_redis, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        perror("fanout_floor: redis");
        return 1;
    }

    sub = "*2\r\n$10\r\nPSUBSCRIBE\r\n$10\r\nkx:quote:*\r\n";
    if (write(ff_redis, sub, strlen(sub)) != (ssize_t) strlen(sub)) {
        return 1;
    }

    sin.sin_port = htons(atoi(argv[1]));
    ff_listen = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(ff_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ff_listen, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(ff_listen, 4096) != 0)
    {
        perror("fanout_floor: listen");
        return 1;
    }

    ev.events = EPOLLIN;
    ev.data.fd = ff_listen;
    epoll_ctl(ff_ep, EPOLL_CTL_ADD, ff_listen, &ev);
    ev.data.fd = ff_redis;
    epoll_ctl(ff_ep, EPOLL_CTL_ADD, ff_redis, &ev);

    for ( ;; ) {
        n = epoll_wait(ff_ep, evs, 512, -1);

        for (i = 0; i < n; i++) {
            fd = evs[i].data.fd;

            if (fd == ff_redis) {
                ff_redis_read();

            } else if (fd == ff_listen) {
                while ((fd = accept4(ff_listen, NULL, NULL, SOCK_NONBLOCK))
                       >= 0)
                {
                    if (fd >= FF_MAX_CONNS) {
                        close(fd);
                        continue;
                    }

                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                               sizeof(one));
                    c = calloc(1, sizeof(ff_conn_t));
                    c->fd = fd;
                    ff_conns[fd] = c;
                    ev.events = EPOLLIN;
                    ev.data.fd = fd;
                    epoll_ctl(ff_ep, EPOLL_CTL_ADD, fd, &ev);
                }

            } else if (ff_conns[fd]) {
                ff_client_read(ff_conns[fd]);
            }
        }
    }
}
