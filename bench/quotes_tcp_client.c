
/*
 * Copyright (C) Kianax
 *
 * bench/quotes-tcp's load client: N connections to the TCP quote feed
 * (ngx_stream_kx_quotes_module), each "AUTH <token>" (one token per line
 * of the tokens file) and "SUBSCRIBE" K of the S symbols (connection i
 * takes symbols i*K .. i*K+K-1, modulo S), then reads quote lines on
 * epoll with large reads and measures publish-to-receive latency from the
 * "sent_ns" field bench/fanout_pub.c puts in each quote (CLOCK_MONOTONIC,
 * same machine).  libc only.
 *
 *   quotes_tcp_client -p PORT -n CONNS -k PER -s SYM,SYM,... -t TOKENS
 *
 * Prints "ready open=N" once every connection is subscribed; then, for
 * each "report" line on stdin, "report quotes=Q p50_us= p99_us= max_us=
 * reads= closed= utime_us= stime_us=" about the time since the previous
 * report (the counters restart).  "quit" ends it.
 */


#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define QC_LINE_MAX   4096
#define QC_HIST_US    200000          /* 1 us buckets up to 200 ms */


typedef struct {
    int        fd;
    int        subscribed;
    size_t     len;
    char       line[QC_LINE_MAX];
} qc_conn_t;


static qc_conn_t  *qc_conns;
static int         qc_n;
static uint64_t    qc_hist[QC_HIST_US + 1];
static uint64_t    qc_quotes, qc_reads, qc_closed, qc_max_us;
static int         qc_ready;
static char        qc_buf[1 << 20];


static int64_t
qc_now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static void
qc_line(qc_conn_t *c, const char *p, size_t len, int64_t now)
{
    int64_t      us;
    const char  *s;

    if (len > 15 && memcmp(p, "{\"type\":\"quote\"", 15) == 0) {
        qc_quotes++;

        s = memmem(p, len, "\"sent_ns\":", 10);
        if (s == NULL) {
            return;
        }

        us = (now - strtoll(s + 10, NULL, 10)) / 1000;
        if (us < 0) {
            us = 0;
        }

        if ((uint64_t) us > qc_max_us) {
            qc_max_us = us;
        }

        qc_hist[us > QC_HIST_US ? QC_HIST_US : us]++;
        return;
    }

    if (len > 20 && memmem(p, len, "\"subscribed\"", 12) && !c->subscribed) {
        c->subscribed = 1;
        qc_ready++;
        return;
    }

    if (memmem(p, len, "\"error\"", 7)) {
        fprintf(stderr, "quotes_tcp_client: %.*s\n", (int) len, p);
    }
}


static void
qc_read(qc_conn_t *c)
{
    char     *p, *end, *nl;
    size_t    k;
    ssize_t   n;
    int64_t   now;

    for ( ;; ) {
        n = read(c->fd, qc_buf, sizeof(qc_buf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }

        if (n <= 0) {
            qc_closed++;
            close(c->fd);
            c->fd = -1;
            return;
        }

        qc_reads++;
        now = qc_now_ns();
        p = qc_buf;
        end = qc_buf + n;

        while (p < end) {
            nl = memchr(p, '\n', end - p);

            if (nl == NULL) {
                k = end - p;
                if (c->len + k <= QC_LINE_MAX) {
                    memcpy(c->line + c->len, p, k);
                    c->len += k;
                }
                break;
            }

            if (c->len) {
                k = nl - p;
                if (c->len + k <= QC_LINE_MAX) {
                    memcpy(c->line + c->len, p, k);
                    qc_line(c, c->line, c->len + k, now);
                }
                c->len = 0;

            } else {
                qc_line(c, p, nl - p, now);
            }

            p = nl + 1;
        }

        if ((size_t) n < sizeof(qc_buf)) {
            return;
        }
    }
}


static void
qc_report(void)
{
    uint64_t       sum, p50, p99, i;
    struct rusage  ru;

    p50 = p99 = 0;
    sum = 0;

    for (i = 0; i <= QC_HIST_US; i++) {
        sum += qc_hist[i];
        if (!p50 && sum * 2 >= qc_quotes) {
            p50 = i;
        }
        if (!p99 && sum * 100 >= qc_quotes * 99) {
            p99 = i;
            break;
        }
    }

    getrusage(RUSAGE_SELF, &ru);

    printf("report quotes=%llu p50_us=%llu p99_us=%llu max_us=%llu reads=%llu"
           " closed=%llu utime_us=%lld stime_us=%lld\n",
           (unsigned long long) qc_quotes, (unsigned long long) p50,
           (unsigned long long) p99, (unsigned long long) qc_max_us,
           (unsigned long long) qc_reads, (unsigned long long) qc_closed,
           (long long) ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
           (long long) ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
    fflush(stdout);

    memset(qc_hist, 0, sizeof(qc_hist));
    qc_quotes = qc_reads = qc_max_us = 0;
}


int
main(int argc, char **argv)
{
    int                  opt, port, per, ep, i, j, n, nsyms;
    char                *list, *syms[256], *tokens, *save, *s, cmd[256];
    char                 out[QC_LINE_MAX * 2];
    FILE                *tf;
    size_t               len;
    struct epoll_event   ev, evs[256];
    struct sockaddr_in   sin;

    port = 0;
    per = 5;
    list = tokens = NULL;
    qc_n = 1;

    while ((opt = getopt(argc, argv, "p:n:k:s:t:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'n': qc_n = atoi(optarg); break;
        case 'k': per = atoi(optarg); break;
        case 's': list = optarg; break;
        case 't': tokens = optarg; break;
        default: goto usage;
        }
    }

    if (port <= 0 || qc_n <= 0 || per <= 0 || list == NULL || tokens == NULL)
    {
        goto usage;
    }

    nsyms = 0;
    for (s = strtok_r(list, ",", &save); s && nsyms < 256;
         s = strtok_r(NULL, ",", &save))
    {
        syms[nsyms++] = s;
    }

    tf = fopen(tokens, "r");
    qc_conns = calloc(qc_n, sizeof(qc_conn_t));
    ep = epoll_create1(0);

    if (tf == NULL || qc_conns == NULL || ep < 0 || nsyms == 0) {
        perror("quotes_tcp_client");
        return 1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    for (i = 0; i < qc_n; i++) {
        qc_conn_t *c = &qc_conns[i];

        if (fgets(cmd, sizeof(cmd), tf) == NULL) {
            rewind(tf);
            if (fgets(cmd, sizeof(cmd), tf) == NULL) {
                return 1;
            }
        }

        cmd[strcspn(cmd, "\n")] = '\0';

        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (void *) &sin, sizeof(sin)) != 0) {
            perror("connect");
            return 1;
        }

        len = snprintf(out, sizeof(out), "AUTH %s\nSUBSCRIBE", cmd);
        for (j = 0; j < per; j++) {
            len += snprintf(out + len, sizeof(out) - len, " %s",
                            syms[(i * per + j) % nsyms]);
        }
        out[len++] = '\n';

        if (write(c->fd, out, len) != (ssize_t) len) {
            perror("write");
            return 1;
        }

        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);

        ev.events = EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }

    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);

    for ( ;; ) {
        n = epoll_wait(ep, evs, 256, qc_ready < qc_n ? 100 : -1);

        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr) {
                qc_read(evs[i].data.ptr);
                continue;
            }

            if (fgets(cmd, sizeof(cmd), stdin) == NULL
                || strncmp(cmd, "quit", 4) == 0)
            {
                return 0;
            }

            if (strncmp(cmd, "report", 6) == 0) {
                qc_report();
            }
        }

        if (qc_ready == qc_n) {
            printf("ready open=%d\n", qc_n);
            fflush(stdout);
            qc_ready++;
            memset(qc_hist, 0, sizeof(qc_hist));
            qc_quotes = qc_reads = qc_max_us = 0;
        }
    }

usage:

    fprintf(stderr, "usage: quotes_tcp_client -p PORT -n CONNS -k PER "
            "-s SYM,... -t TOKENS\n");
    return 2;
}
