#!/usr/bin/perl

# The TCP live-quote feed (ngx_stream_kx_quotes_module): AUTH with a JWT,
# SUBSCRIBE / UNSUBSCRIBE, quotes published on kx:quote:<SYM> forwarded
# byte for byte, one JSON line each; errors; per-worker ref-counted Redis
# subscriptions; slow consumers (queue bound, coalescing, send timeout)
# that never delay the others; Redis down and up; token expiry; reload.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use POSIX qw(strftime);
use Test::More;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $SECRET = 'stream-quotes-test-secret-0123456789abcdef';

sub token {
    my (%claims) = @_;
    my $secret = delete $claims{secret} // $SECRET;
    my $h = encode_base64url(json_encode({ alg => 'HS256', typ => 'JWT' }));
    my $now = int time;
    my $p = encode_base64url(json_encode({ sub => 'user-1', iat => $now,
                                           exp => $now + 3600, %claims }));
    return "$h.$p." . encode_base64url(hmac_sha256("$h.$p", $secret));
}

# quote($sym, $n, pad => $bytes): a C1 message; timestamps rise with $n
my $T0 = int(time) - 3600;
sub quote {
    my ($sym, $n, %o) = @_;
    my $ms = $n % 1000;
    my $ts = strftime('%Y-%m-%dT%H:%M:%S', gmtime($T0 + int($n / 1000)))
             . sprintf('.%03dZ', $ms);
    my $pad = $o{pad} ? ',"pad":"' . ('x' x $o{pad}) . '"' : '';
    return qq({"type":"quote","symbol":"$sym","price":"101.25","bid":"101.24",)
         . qq("ask":"101.26","bid_size":300,"ask_size":200,"open":"100.00",)
         . qq("prev_close":"99.50","change_percent":"1.7588","timestamp":"$ts",)
         . qq("n":$n,"sent_ns":1732500000000000000$pad});
}

my $redis = start_redis();
my %env = (KX_TEST_SECRET => $SECRET);

my $ng = start_nginx(<<'EOF', redis => $redis, env => \%env);
master_process on;
worker_processes 1;
events { worker_connections 1024; }
http {
    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_backoff 50ms 300ms;
    kx_service quotes-test;
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /metrics { kx_metrics; }
        location / { return 204; }
    }
}
stream {
    kx_quotes_jwt_key - HS256 env:KX_TEST_SECRET;
    kx_quotes_auth_timeout 1s;
    kx_quotes_max_line 1024;

    # a tight queue, a patient send timeout
    server {
        listen 127.0.0.1:%%QUOTES_PORT%% sndbuf=4k;
        kx_quotes;
        kx_quotes_queue_size 8;
        kx_quotes_max_symbols 6;
        kx_quotes_send_timeout 30s;
    }

    # a roomy queue, a short send timeout, no leeway
    server {
        listen 127.0.0.1:%%QUOTES2_PORT%% sndbuf=4k;
        kx_quotes;
        kx_quotes_queue_size 64;
        kx_quotes_send_timeout 1s;
        kx_quotes_jwt_leeway 0s;
    }
}
EOF

my $Q1 = $ng->ports->{QUOTES_PORT};
my $Q2 = $ng->ports->{QUOTES2_PORT};

sub numsub {
    my ($sym) = @_;
    my $r = $redis->command(PUBSUB => 'NUMSUB', "kx:quote:$sym");
    return $r->[1];
}

sub wait_numsub {
    my ($sym, $want) = @_;
    return wait_until(sub { numsub($sym) == $want }, timeout => 5);
}

# a client that has authenticated and subscribed
sub subscriber {
    my ($port, @syms) = @_;
    my %o = @syms && ref $syms[-1] ? %{ pop @syms } : ();
    my $c = QC->new($port, %o);
    $c->send('AUTH ' . token());
    my $r = $c->json;
    die "AUTH: " . json_encode($r) unless $r && $r->{type} eq 'authenticated';
    if (@syms) {
        $c->send("SUBSCRIBE @syms");
        $r = $c->json;
        die "SUBSCRIBE: " . json_encode($r) unless $r && $r->{type} eq 'subscribed';
    }
    return $c;
}

my $pub = $redis->connect;

sub publish {
    my ($sym, $msg) = @_;
    return $pub->command(PUBLISH => "kx:quote:$sym", $msg);
}

# pipelined PUBLISHes: [sym, msg] pairs
sub publish_many {
    my (@pairs) = @_;
    $pub->send_command(PUBLISH => "kx:quote:$_->[0]", $_->[1]) for @pairs;
    $pub->read_reply(10) for @pairs;
}

# --- before AUTH -------------------------------------------------------------

{
    my $c = QC->new($Q1);
    $c->send('PING');
    is_deeply $c->json, { type => 'pong' }, 'PING before AUTH: pong';

    $c->send('SUBSCRIBE AAPL');
    my $r = $c->json;
    is $r->{type}, 'error', 'SUBSCRIBE before AUTH: an error line';
    is $r->{code}, 'unauthorized', '... unauthorized';
    like $r->{message}, qr/AUTH/, '... saying what to do';

    $c->send('UNSUBSCRIBE');
    is $c->json->{code}, 'unauthorized', 'UNSUBSCRIBE before AUTH: unauthorized';

    $c->send('FROB x');
    is $c->json->{code}, 'unknown_command', 'an unknown command';

    $c->send('');
    $c->send("ping\r");
    is $c->json->{type}, 'pong', 'empty lines ignored; CRLF and any case';

    $c->send('AUTH');
    is $c->json->{code}, 'bad_request', 'AUTH without a token: bad_request';

    my $t = time;
    my $r2 = $c->json(3);
    is $r2->{code}, 'auth_timeout', 'no AUTH within kx_quotes_auth_timeout';
    ok $c->eof_within(2), '... and the connection closes';
    cmp_ok time - $t, '<', 2.5, '... in about the timeout';
}

# --- AUTH ----------------------------------------------------------------------

{
    my $c = QC->new($Q1);
    $c->send('AUTH not.a.token');
    my $r = $c->json;
    is $r->{type}, 'error', 'a malformed token is refused';
    is $r->{code}, 'invalid_token', '... invalid_token';
    ok $c->eof_within(2), '... and the connection closes';

    $c = QC->new($Q1);
    $c->send('AUTH ' . token(secret => 'another-secret-0123456789abcdefghij'));
    is $c->json->{code}, 'invalid_token', 'a token signed with another key';
    ok $c->eof_within(2), '... closes';

    $c = QC->new($Q1);
    $c->send('AUTH ' . token(exp => int(time) - 3600));
    is $c->json->{code}, 'token_expired', 'an expired token: token_expired';
    ok $c->eof_within(2), '... closes';

    $c = QC->new($Q1);
    $c->send('AUTH ' . token(sub => undef));
    is $c->json->{code}, 'invalid_token', 'a token without sub';

    $c = QC->new($Q1);
    $c->send('AUTH ' . token(sub => 'user-42'));
    is_deeply $c->json, { type => 'authenticated', user_id => 'user-42' },
        'a good token: authenticated, with the user id';
    $c->send('PING');
    is $c->json->{type}, 'pong', '... the connection stays';
    sleep 1.3;
    $c->send('PING');
    is $c->json->{type}, 'pong', '... past the auth timeout';
    $c->send('QUIT');
    is $c->json->{type}, 'bye', 'QUIT: bye';
    ok $c->eof_within(2), '... and the connection closes';
}

# --- SUBSCRIBE and quotes ---------------------------------------------------

my $n = 0;

{
    my $c = QC->new($Q1);
    $c->send('AUTH ' . token());
    $c->json;
    $c->send('SUBSCRIBE AAPL tsla AAPL');
    is_deeply $c->json, { type => 'subscribed', symbols => ['AAPL', 'TSLA'] },
        'SUBSCRIBE: upper-cased, duplicates once';
    ok wait_numsub('AAPL', 1) && wait_numsub('TSLA', 1),
        'the worker subscribed kx:quote:AAPL and kx:quote:TSLA';

    # one at a time: quotes of a symbol published faster than the
    # connection is written coalesce (see the lagging reader below)
    my (@sent, @got);
    for my $i (1 .. 10) {
        my $sym = $i % 2 ? 'AAPL' : 'TSLA';
        my $m = quote($sym, ++$n);
        push @sent, $m;
        publish($sym, $m);
        push @got, $c->line;
    }
    is_deeply \@got, \@sent,
        'quotes arrive in order, byte for byte (extra fields kept)';

    # different symbols published at once all arrive, in order
    @sent = map { quote($_, ++$n) } qw(AAPL TSLA);
    publish_many(['AAPL', $sent[0]], ['TSLA', $sent[1]]);
    is_deeply [$c->line, $c->line], \@sent, 'a burst of two symbols';
    my @ts = map { json_decode($_)->{timestamp} } @got;
    ok !(grep { $ts[$_] le $ts[$_ - 1] } 1 .. $#ts), '... timestamps rise';

    publish('MSFT', quote('MSFT', ++$n));
    publish('AAPL', my $m = quote('AAPL', ++$n));
    is $c->line, $m, 'a symbol not subscribed is not sent';

    # unknown symbols: refused, nothing changes
    $c->send('SUBSCRIBE MSFT NOPE lower.case');
    my $r = $c->json;
    is $r->{code}, 'unknown_symbol', 'an unknown symbol: unknown_symbol';
    is_deeply $r->{symbols}, ['NOPE', 'lower.case'], '... naming the unknown ones';
    $c->send('SUBSCRIBE TOOLONGSYMBOL');
    is $c->json->{code}, 'unknown_symbol', 'a symbol longer than any';
    $c->send('SUBSCRIBE');
    is $c->json->{code}, 'bad_request', 'SUBSCRIBE without symbols: bad_request';
    is numsub('MSFT'), 0, '... MSFT was not subscribed';

    # max symbols (6 on this server)
    $c->send('SUBSCRIBE MSFT NVDA AMD INTC AMZN');
    is $c->json->{code}, 'too_many_symbols',
        'past kx_quotes_max_symbols: too_many_symbols, nothing changes';
    is numsub('NVDA'), 0, '... NVDA not subscribed';

    # a message that is not one line is dropped
    publish('AAPL', qq({"type":"quote",\n"symbol":"AAPL"}));
    publish('AAPL', $m = quote('AAPL', ++$n));
    is $c->line, $m, 'a message with a newline is dropped';

    # UNSUBSCRIBE
    $c->send('UNSUBSCRIBE TSLA');
    is_deeply $c->json, { type => 'unsubscribed', symbols => ['TSLA'] },
        'UNSUBSCRIBE TSLA';
    ok wait_numsub('TSLA', 0), '... the worker left kx:quote:TSLA (last user)';
    publish('TSLA', quote('TSLA', ++$n));
    publish('AAPL', $m = quote('AAPL', ++$n));
    is $c->line, $m, '... TSLA quotes stop, AAPL ones go on';

    $c->send('UNSUBSCRIBE NOPE');
    is $c->json->{code}, 'unknown_symbol', 'UNSUBSCRIBE an unknown symbol';

    # ref counting: the channel stays while any connection wants it
    my $d = subscriber($Q2, 'AAPL');
    is numsub('AAPL'), 1, 'two connections, one Redis subscription per worker';
    $c->send('UNSUBSCRIBE');
    is_deeply $c->json, { type => 'unsubscribed', symbols => ['AAPL'] },
        'UNSUBSCRIBE without symbols: all of them';
    sleep 0.2;
    is numsub('AAPL'), 1, '... the other connection still wants AAPL';
    publish('AAPL', $m = quote('AAPL', ++$n));
    is $d->line, $m, '... and gets it';
    ok !defined $c->line(0.3), '... the first one does not';
    $d->close;
    ok wait_numsub('AAPL', 0), 'the last connection gone: unsubscribed';

    # a long line
    $c->send('PING ' . ('x' x 2000));
    is $c->json->{code}, 'line_too_long', 'a line over kx_quotes_max_line';
    ok $c->eof_within(2), '... closes the connection';

    # one split across writes
    $c = subscriber($Q1);
    $c->raw('PI');
    sleep 0.1;
    $c->raw("NG\nPING\n");
    is $c->json->{type}, 'pong', 'a line split across reads';
    is $c->json->{type}, 'pong', '... and the next one';
    $c->raw('x' x 600);
    sleep 0.1;
    $c->raw('x' x 600);
    is $c->json->{code}, 'line_too_long', 'a long line split across reads';
}

# --- slow consumers ---------------------------------------------------------

# A reader that stops, subscribed to 6 symbols: quotes coalesce per symbol,
# so its queue stays within kx_quotes_queue_size (8) while a reader on the
# same worker keeps getting its quotes at once; replies it never reads
# overflow the queue, and it is closed.
{
    my @syms = qw(AAPL MSFT NVDA AMD INTC AMZN);
    my $slow = subscriber($Q1, @syms, { rcvbuf => 4096 });
    my $fast = subscriber($Q1, 'AAPL');
    wait_numsub($_, 1) for @syms;

    my $mark = $ng->error_log_mark;
    my $worst = 0;
    for my $round (1 .. 40) {
        my @q = map { [$_, quote($_, ++$n, pad => 1000)] } @syms;
        my $t = time;
        publish_many(@q);
        my $got = $fast->line(3);
        unless (defined $got && $got eq $q[0][1]) {
            fail("the fast reader got round $round");
            last;
        }
        $worst = time - $t if time - $t > $worst;
    }
    cmp_ok $worst, '<', 1,
        sprintf('a stalled reader never delays another (worst %.3f s)', $worst);
    unlike $ng->error_log($mark), qr/client too slow/,
        '... and is not closed while its quotes coalesce';
    $slow->send('PING') for 1 .. 10;
    ok $ng->wait_log(qr/kx_quotes: client too slow \(8 messages queued\)/,
                     mark => $mark),
        'replies it does not read fill its queue: closed';
    ok $slow->eof_within(5), '... its socket ends';
    $fast->send('PING');
    is $fast->json->{type}, 'pong', 'the other reader is fine';
    $fast->close;
}

# One symbol never overflows the queue; a reader that stops altogether is
# closed by kx_quotes_send_timeout.
{
    my $stall = subscriber($Q2, 'AAPL', { rcvbuf => 4096 });
    wait_numsub('AAPL', 1);
    my $mark = $ng->error_log_mark;
    for (1 .. 10) {
        publish_many(map { ['AAPL', quote('AAPL', ++$n, pad => 8000)] } 1 .. 5);
    }
    ok $ng->wait_log(qr/kx_quotes: client stopped reading/, mark => $mark,
                     timeout => 5),
        'a reader that stops is closed after kx_quotes_send_timeout';
    ok $stall->eof_within(5), '... its socket ends';
}

# A slow reader skips stale quotes: the newest replaces a queued one.
{
    my $lag = subscriber($Q1, 'AAPL', { rcvbuf => 4096 });
    wait_numsub('AAPL', 1);
    my $first = $n + 1;
    publish_many(map { ['AAPL', quote('AAPL', ++$n, pad => 1000)] } 1 .. 300);
    sleep 0.5;
    my @got;
    while (defined(my $l = $lag->line(3))) {
        push @got, json_decode($l)->{n};
        last if $got[-1] == $n;
    }
    is $got[-1], $n, 'a lagging reader gets the newest quote';
    cmp_ok scalar(@got), '<', 300, sprintf('... and skips stale ones (%d of 300)', scalar @got);
    ok !(grep { $got[$_] <= $got[$_ - 1] } 1 .. $#got), '... in order';
    $lag->send('PING');
    is $lag->json->{type}, 'pong', '... and stays connected';
    $lag->close;
}

# --- one symbol dropped and taken again in one turn ------------------------

# The last subscription of a worker's Redis link ends (UNSUBSCRIBE, the
# server's count drops to 0) while another SUBSCRIBE is already on the wire:
# hiredis 0.14 leaves subscribed mode on that confirmation and used to abort
# the worker on the next one; and an UNSUBSCRIBE of a channel confirmed after
# its new SUBSCRIBE used to lose the channel's callback (and its quotes).
{
    wait_numsub('AAPL', 0);
    my $c = subscriber($Q1, 'AAPL');
    wait_numsub('AAPL', 1);
    for my $round (1 .. 5) {
        $c->raw("UNSUBSCRIBE AAPL\nSUBSCRIBE AAPL\nPING\n");
        my @r = map { $c->json } 1 .. 3;
        is_deeply [map { $_ && $_->{type} } @r], [qw(unsubscribed subscribed pong)],
            "unsubscribe and subscribe again in one turn ($round)"
            or last;
        wait_numsub('AAPL', 1);
        my $q = quote('AAPL', ++$n);
        publish('AAPL', $q);
        is $c->line(3), $q, '... and the quotes still arrive';
    }
    $c->close;
    wait_numsub('AAPL', 0);
}

# --- counters in GET /metrics ------------------------------------------------

{
    my $m = $ng->http(GET => '/metrics')->{body};
    my %c = $m =~ /^(kx_quotes_\w+(?:\{[^}]*\})?) (\d+)$/mg;
    my $svc = 'service="quotes-test"';
    cmp_ok $c{"kx_quotes_connections_total{$svc}"} // 0, '>=', 10,
        '/metrics: kx_quotes_connections_total';
    cmp_ok $c{"kx_quotes_messages_total{$svc}"} // 0, '>=', 300,
        '... kx_quotes_messages_total';
    cmp_ok $c{"kx_quotes_queued_total{$svc}"} // 0, '>=', 300,
        '... kx_quotes_queued_total';
    cmp_ok $c{"kx_quotes_replaced_total{$svc}"} // 0, '>', 0,
        '... kx_quotes_replaced_total (the lagging reader)';
    for my $reason (qw(queue_full send_timeout auth_timeout auth_refused
                       line_too_long)) {
        cmp_ok $c{"kx_quotes_closed_total{$svc,reason=\"$reason\"}"} // 0,
            '>=', 1, "... kx_quotes_closed_total reason=$reason"
            or diag $m;
    }
}

# --- token expiry -----------------------------------------------------------

{
    my $c = QC->new($Q2);
    $c->send('AUTH ' . token(exp => int(time) + 2));
    is $c->json->{type}, 'authenticated', 'a token that expires in 2 s';
    my $r = $c->json(5);
    is $r->{code}, 'token_expired', '... the session ends with it';
    ok $c->eof_within(2), '... closed';
}

# --- Redis down and up --------------------------------------------------------

{
    my $c = subscriber($Q1, 'TSLA');
    wait_numsub('TSLA', 1);
    publish('TSLA', my $m = quote('TSLA', ++$n));
    is $c->line, $m, 'before the outage';

    $pub->close;
    $redis->down;
    sleep 0.5;
    $c->send('PING');
    is $c->json->{type}, 'pong', 'Redis down: the feed still answers';
    my $d = QC->new($Q1);
    $d->send('AUTH ' . token());
    $d->json;
    $d->send('SUBSCRIBE GOOGL');
    is $d->json->{type}, 'subscribed', '... and takes subscriptions';

    $redis->up;
    $pub = $redis->connect;
    my ($got_t, $got_g);
    my $deadline = time + 15;
    while (time < $deadline && !($got_t && $got_g)) {
        publish('TSLA', quote('TSLA', ++$n));
        publish('GOOGL', quote('GOOGL', ++$n));
        my $l = $c->line(0.2);
        $got_t = 1 if defined $l && $l =~ /"TSLA"/;
        $l = $d->line(0.2);
        $got_g = 1 if defined $l && $l =~ /"GOOGL"/;
    }
    ok $got_t, 'Redis back: resubscribed, quotes flow again';
    ok $got_g, '... also for a symbol subscribed during the outage';
    $c->close;
    $d->close;
}

# --- reload -------------------------------------------------------------------

{
    my $c = subscriber($Q1, 'AAPL');
    ok $ng->reload, 'reload';
    ok $c->eof_within(5), 'the old worker closes its feed connections';
    # the old worker's subscription lasts until it has exited: counting it
    # as the new worker's would publish before the new one has subscribed
    ok wait_numsub('AAPL', 0), '... and, exiting, its Redis subscription';
    my $d = subscriber($Q1, 'AAPL');
    ok wait_numsub('AAPL', 1), 'the new worker subscribes';
    publish('AAPL', my $m = quote('AAPL', ++$n));
    is $d->line, $m, 'a new connection gets quotes from the new worker';
    $d->close;
}

$ng->stop;

# --- a stream-only instance with its own Redis client -----------------------

{
    my $own = start_nginx(<<'EOF', redis => $redis, env => \%env);
master_process on;
worker_processes 2;
events { worker_connections 64; }
stream {
    kx_quotes_redis %%REDIS_ADDR%%;
    kx_quotes_jwt_key - HS256 env:KX_TEST_SECRET;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        kx_quotes;
    }
}
EOF
    my @c = map { subscriber($own->port, 'SPY') } 1 .. 12;
    ok wait_numsub('SPY', 2),
        'kx_quotes_redis: a client of its own, without http; one Redis '
        . 'subscription per worker (2 workers, 12 connections)';
    publish('SPY', my $m = quote('SPY', ++$n));
    is scalar(grep { ($_->line // '') eq $m } @c), 12,
        '... every connection gets the quote once';
    ok !(grep { defined $_->line(0.2) } @c), '... and nothing more';
    $_->close for @c;
    ok wait_numsub('SPY', 0), '... all gone: no subscription left';
    $own->stop;

    my $err = eval { start_nginx(<<'EOF', env => \%env); 1 } ? '' : $@;
master_process on;
worker_processes 1;
events { worker_connections 64; }
stream {
    kx_quotes_jwt_key - HS256 env:KX_TEST_SECRET;
    server { listen 127.0.0.1:%%PORT%%; kx_quotes; }
}
EOF
    like $err, qr/"kx_quotes" needs "kx_quotes_redis"/,
        'no Redis configured: the configuration is refused';

    $err = eval { start_nginx(<<'EOF', redis => $redis); 1 } ? '' : $@;
master_process on;
worker_processes 1;
events { worker_connections 64; }
stream {
    kx_quotes_redis %%REDIS_ADDR%%;
    server { listen 127.0.0.1:%%PORT%%; kx_quotes; }
}
EOF
    like $err, qr/"kx_quotes" needs "kx_quotes_jwt_key"/,
        'no key configured: the configuration is refused';
}

# --- the shipped configs: notify's feed carries the market's quotes --------

{
    my $pg = start_pg();
    my $ports = stack_ports();
    my $market = start_instance('market', ports => $ports, pg => $pg,
                                redis => $redis);
    my $notify = start_instance('notify', ports => $ports, pg => $pg,
                                redis => $redis);

    my $c = QC->new($ports->{quotes});
    $c->send('AUTH ' . stack_token('stack-user'));
    is $c->json->{type}, 'authenticated',
        'notify.conf serves the feed (snippets/stream_quotes.conf)';
    $c->send('SUBSCRIBE AAPL MSFT');
    is $c->json->{type}, 'subscribed', '... SUBSCRIBE AAPL MSFT';

    my (%ts, @bad, $count);
    my $deadline = time + 10;
    while (time < $deadline && ($count // 0) < 8) {
        my $l = $c->line(2) // last;
        my $q = json_decode($l);
        push @bad, $l unless $l =~ /^\{"type":"quote",/ && $q->{symbol} =~ /^(?:AAPL|MSFT)$/
                             && $q->{price} =~ /^\d+\.\d+$/;
        push @bad, "timestamp $q->{timestamp} after $ts{$q->{symbol}}"
            if defined $ts{ $q->{symbol} } && $q->{timestamp} le $ts{ $q->{symbol} };
        $ts{ $q->{symbol} } = $q->{timestamp};
        $count++;
    }
    is $count, 8, 'the market instance\'s published quotes arrive';
    ok !@bad, '... C1 messages, timestamps rising per symbol'
        or diag explain \@bad;
    $c->close;
    $notify->stop;
    $market->stop;
}

done_testing;


# A line client of the feed.
package QC;

use strict;
use warnings;
use IO::Select;
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_RCVBUF inet_aton
              pack_sockaddr_in);
use Time::HiRes qw(time);

sub new {
    my ($class, $port, %o) = @_;
    socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, $o{rcvbuf}) or die "rcvbuf: $!"
        if $o{rcvbuf};
    connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1')))
        or die "connect $port: $!";
    binmode $s;
    return bless { sock => $s, buf => '' }, $class;
}

sub raw {
    my ($self, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    while (length $bytes) {
        my $w = syswrite($self->{sock}, $bytes);
        return 0 unless $w;
        substr($bytes, 0, $w, '');
    }
    return 1;
}

sub send { my ($self, $line) = @_; return $self->raw("$line\n") }

# the next line without its "\n"; undef on timeout or end
sub line {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (1) {
        my $i = index($self->{buf}, "\n");
        if ($i >= 0) {
            my $l = substr($self->{buf}, 0, $i);
            substr($self->{buf}, 0, $i + 1, '');
            return $l;
        }
        return undef if $self->{eof} || !$self->{sock};
        my $left = $deadline - time;
        return undef if $left <= 0;
        next unless IO::Select->new($self->{sock})->can_read($left);
        my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
        $self->{eof} = 1 unless $n;
    }
}

sub json {
    my ($self, $timeout) = @_;
    my $l = $self->line($timeout);
    return undef unless defined $l;
    return Kx::Test::json_decode($l);
}

# reads and drops everything until the server closes; true if it did
sub eof_within {
    my ($self, $timeout) = @_;
    my $deadline = time + $timeout;
    while (!$self->{eof}) {
        my $left = $deadline - time;
        return 0 if $left <= 0;
        next unless IO::Select->new($self->{sock})->can_read($left);
        my $n = sysread($self->{sock}, my $chunk, 65536);
        $self->{eof} = 1 unless $n;
    }
    return 1;
}

sub close { my $self = shift; close($self->{sock}) if $self->{sock}; delete $self->{sock} }
