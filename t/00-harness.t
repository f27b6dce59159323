#!/usr/bin/perl
# The harness itself (t/lib/Kx/Test.pm): PostgreSQL with the migrations,
# Redis, nginx (the distribution's binary, or KX_NGINX), the HTTP, raw and
# WebSocket clients, and that stopping leaves no process behind.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(sha256_hex);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Protocol::WebSocket::Frame;
use Protocol::WebSocket::Handshake::Server;
use Time::HiRes qw(time sleep);

use Kx::Test;

my $root = project_root();
ok -f "$root/scripts/kx-migrate", 'project_root finds the repository';
like nginx_bin(), qr{nginx$}, 'nginx_bin';

# --- free_port -----------------------------------------------------------------

{
    my %seen;
    my @ports = map { free_port() } 1 .. 20;
    $seen{$_}++ for @ports;
    is scalar(keys %seen), 20, 'free_port: 20 distinct ports';
    ok !(grep { $_ == 8080 || $_ == 8081 || ($_ >= 3002 && $_ <= 3007)
                || $_ == 55432 || $_ == 56379 } @ports),
        'free_port: never a default port of the stack';
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ports[0],
                                  Listen => 1, ReuseAddr => 1);
    ok $s, 'free_port: the port can be bound';
}

# --- PostgreSQL ---------------------------------------------------------------

my $t0 = time;
my $pg = start_pg();
my $pg_secs = time - $t0;
diag sprintf 'start_pg took %.2f s (%s)', $pg_secs,
    $pg->{built_template} ? 'template built' : $pg->{from_template} ? 'template copy' : 'initdb + migrations';
ok $pg->port, 'start_pg: port ' . $pg->port;
like $pg->conninfo, qr/^hostaddr=127\.0\.0\.1 port=\d+ user=postgres dbname=kx$/, 'conninfo';
is $pg->psql('SELECT 1 + 1'), '2', 'psql helper';
is $pg->value('SELECT current_database()'), 'kx', 'value helper';
is_deeply [$pg->rows("SELECT 1, NULL::text, 'a|b' UNION ALL SELECT 2, 'x', ''")],
    [[1, undef, 'a|b'], [2, 'x', '']], 'rows helper (NULL as undef, separators kept)';

my @schemas = qw(auth trading agents market retrieval notify scheduler);
for my $s (@schemas) {
    is $pg->value("SELECT count(*) FROM pg_namespace WHERE nspname = '$s'"), 1,
        "schema $s exists";
}

my @files = sort glob("$root/db/migrations/*.sql");
ok @files >= 8, scalar(@files) . ' migration files';
my %applied = map { $_->[0] => [$_->[1], $_->[2]] }
    $pg->rows('SELECT version, name, checksum FROM public.kx_schema_migrations');
for my $f (@files) {
    my ($v, $n) = $f =~ m{/(\d+)_(\w+)\.sql$};
    open my $fh, '<:raw', $f or die $!;
    my $sum = sha256_hex(do { local $/; <$fh> });
    is_deeply $applied{$v}, [$n, $sum], "kx_schema_migrations has ${v}_$n with its checksum";
}
is scalar(keys %applied), scalar(@files), 'no other version recorded';

{
    my ($rc, $out, $err) = Kx::Test::migrate_db($pg->conninfo);
    is $rc, 0, 'kx-migrate again: exit 0' or diag $err;
    unlike $out, qr/^apply/m, 'kx-migrate again applies nothing';
    is scalar(() = $out =~ /^skip\s/mg), scalar(@files), 'kx-migrate again: one skip line per file';
}

my %tables = (
    auth      => [qw(users refresh_tokens)],
    trading   => [qw(portfolios positions orders order_events trades risk_limits outbox)],
    agents    => [qw(agents agent_executions outbox inbox)],
    market    => [qw(symbols bars quotes news outbox)],
    retrieval => [qw(documents embeddings_cache)],
    notify    => [qw(notifications preferences devices inbox)],
    scheduler => [qw(triggers schedules firings leases outbox inbox)],
);
for my $s (sort keys %tables) {
    my @have = map { $_->[0] } $pg->rows(
        "SELECT tablename FROM pg_tables WHERE schemaname = '$s' ORDER BY 1");
    is_deeply \@have, [sort @{ $tables{$s} }], "tables of $s";
}

# Design rules of the schema.
{
    my @no_index = map { "$_->[0].$_->[1]" } $pg->rows(<<'SQL');
SELECT c.table_schema, c.table_name
  FROM information_schema.columns c
  JOIN information_schema.tables t USING (table_schema, table_name)
 WHERE c.column_name = 'user_id' AND t.table_type = 'BASE TABLE'
   AND c.table_schema IN ('auth','trading','agents','market','retrieval','notify','scheduler')
   AND NOT EXISTS (
       SELECT 1 FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = format('%I.%I', c.table_schema, c.table_name)::regclass
          AND a.attname = 'user_id')
SQL
    # Exempt on purpose (0013, the order path): rows read by their order
    # or in id order by the relay, never by user, where user_id is a copy
    # that routes the event; an index would cost every order.
    my %exempt = map { $_ => 1 } qw(trading.order_events trading.outbox);
    is_deeply [ grep { !$exempt{$_} } @no_index ], [],
        'every user_id column leads an index (but the order path\'s logs)';

    my @bad_time = map { join '.', @$_ } $pg->rows(<<'SQL');
SELECT table_schema, table_name, column_name, data_type
  FROM information_schema.columns
 WHERE table_schema IN ('auth','trading','agents','market','retrieval','notify','scheduler')
   AND data_type IN ('timestamp without time zone', 'time with time zone')
SQL
    is_deeply \@bad_time, [], 'timestamps are timestamptz';

    my @floats = map { join '.', @$_ } $pg->rows(<<'SQL');
SELECT table_schema, table_name, column_name
  FROM information_schema.columns
 WHERE table_schema IN ('auth','trading','agents','market','notify','scheduler')
   AND (data_type IN ('real', 'double precision', 'money')
        OR udt_name IN ('_float4', '_float8'))
SQL
    is_deeply \@floats, [], 'no float or money columns outside retrieval embeddings';

    my @not_null_owner = map { join '.', @$_ } $pg->rows(<<'SQL');
SELECT table_schema, table_name
  FROM information_schema.columns
 WHERE column_name = 'user_id' AND is_nullable = 'YES'
   AND table_schema IN ('auth','trading','agents','notify','scheduler')
   AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')
SQL
    is_deeply \@not_null_owner, [], 'user_id is NOT NULL in user-owned tables';
}

# Stall and resume.
{
    my @pids = $pg->pids;
    ok @pids >= 3, 'pg pids: postmaster and its children';
    $pg->kill_stop;
    my $t = time;
    my $res = $pg->psql_result('SELECT 1', timeout => 1);
    ok $res->{rc} != 0 && time - $t < 5, 'kill_stop: a query hangs (killed after 1 s)';
    $pg->kill_cont;
    is $pg->psql('SELECT 42'), '42', 'kill_cont: answers again';
}

# Restart keeps the data.
{
    $pg->psql('CREATE TABLE public.harness_probe (x int); INSERT INTO public.harness_probe VALUES (7)');
    my $old = $pg->pid;
    $pg->restart;
    isnt $pg->pid, $old, 'restart: a new postmaster';
    is $pg->value('SELECT x FROM public.harness_probe'), '7', 'restart: data kept';
}

# --- Redis ------------------------------------------------------------------------

my $redis = start_redis();
is $redis->cli('PING'), 'PONG', 'redis-cli PING -> PONG';
like $redis->addr, qr/^127\.0\.0\.1:\d+$/, 'redis addr';
is $redis->command(SET => 'k', 'v'), 'OK', 'RESP SET';
is $redis->command(GET => 'k'), 'v', 'RESP GET';
is $redis->command(GET => 'missing'), undef, 'RESP nil';
{
    my $id = $redis->command(XADD => 'events:test', '*', type => 'order.filled');
    like $id, qr/^\d+-\d+$/, 'XADD';
    my $r = $redis->command(XRANGE => 'events:test', '-', '+');
    is_deeply $r, [[$id, ['type', 'order.filled']]], 'XRANGE nested arrays';
    my $c = $redis->connect;
    my $err = $c->command(INCR => 'k', { allow_error => 1 });
    like "$err", qr/not an integer/, 'RESP error reply';
    $c->close;
}
{
    my $sub = $redis->connect;
    $sub->command(SUBSCRIBE => 'quotes');
    $redis->command(PUBLISH => 'quotes', 'AAPL 150');
    is_deeply $sub->read_reply(2), ['message', 'quotes', 'AAPL 150'], 'pub/sub';
    $sub->close;
}
{
    $redis->kill_stop;
    my $c = $redis->connect(timeout => 0.5);
    $c->send_command('PING');
    my $r = $c->read_reply(0.5);
    ok !$c->{got}, 'redis kill_stop: no answer';
    $redis->kill_cont;
    is $c->read_reply(2), 'PONG', 'redis kill_cont: the answer comes';
    $c->close;
}

# --- nginx --------------------------------------------------------------------

my $nginx_bin = $ENV{KX_NGINX} // '/usr/sbin/nginx';
SKIP: {
    skip "no nginx binary at $nginx_bin", 1 unless -x $nginx_bin;

    # A WebSocket echo server (Perl), for the client and for nginx proxying.
    my $ws_port = free_port();
    my $ws_pid = start_ws_echo($ws_port);

    my $ng = start_nginx(<<'CONF', nginx => $nginx_bin, pg => $pg, redis => $redis,
master_process on;
worker_processes 2;
events { worker_connections 128; }
http {
    access_log off;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /health {
            default_type application/json;
            return 200 '{"status":"ok","pg":"%%PG_PORT%%","redis":"%%REDIS_ADDR%%"}';
        }
        location = /echo-header {
            default_type text/plain;
            return 200 "$http_x_test";
        }
        location = /missing {
            default_type application/json;
            return 404 '{"error":{"code":"not_found","message":"no such thing"}}';
        }
        location /ws {
            proxy_pass http://127.0.0.1:%%WS_PORT%%;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 10s;
        }
    }
    server {
        listen 127.0.0.1:%%PORT2%%;
        location / { return 204; }
    }
}
CONF
        vars => { WS_PORT => $ws_port });

    ok $ng->port, 'start_nginx: port ' . $ng->port;
    ok $ng->ports->{PORT2} && $ng->ports->{PORT2} != $ng->port, 'second placeholder port';
    is $ng->url('/x'), 'http://127.0.0.1:' . $ng->port . '/x', 'url()';

    my $r = http(GET => $ng->url('/health'));
    is $r->{status}, 200, 'GET /health 200';
    is_deeply $r->{json}, { status => 'ok', pg => $pg->port, redis => $redis->addr },
        'json decoded, placeholders substituted';
    $r = $ng->http(GET => '/echo-header', headers => { 'X-Test' => 'hello' });
    is $r->{body}, 'hello', 'request headers sent';
    is $r->{json}, undef, 'no json for text/plain';
    $r = http(POST => $ng->url('/missing'), json => { a => 1 });
    is $r->{status}, 404, 'POST with a json body';
    is $r->{json}{error}{code}, 'not_found', 'error body decoded';
    $r = http(GET => 'http://127.0.0.1:' . $ng->ports->{PORT2} . '/');
    is $r->{status}, 204, 'second server answers';
    $r = http(GET => 'http://127.0.0.1:' . free_port() . '/', timeout => 2);
    is $r->{status}, 599, 'connection refused is status 599';
    ok $r->{error}, '... with an error';

    my $raw = http_raw($ng->port, "GARBAGE\r\n\r\n");
    like $raw, qr{^HTTP/1\.1 400}, 'http_raw: malformed request -> 400';
    $raw = http_raw($ng->port, ["GET /health HTTP/1.1\r\n", "Host: x\r\nConnection: close\r\n\r\n"],
                    delay => 0.1);
    my $p = parse_http_response($raw);
    is $p->{status}, 200, 'http_raw in chunks + parse_http_response';
    like $p->{body}, qr/"status":"ok"/, '... body';

    # WebSocket through nginx.
    my $ws = ws_connect($ng->ws_url('/ws'), { 'X-Test' => 'ws' });
    is $ws->status, 101, 'ws_connect: 101 via nginx';
    ok $ws->send_text("h\x{e9}llo"), 'send_text';
    is $ws->recv(5), "h\x{e9}llo", 'recv: echoed text (UTF-8)';
    $ws->send_json({ type => 'subscribe', symbols => ['AAPL'] });
    is_deeply $ws->recv_json(5), { type => 'subscribe', symbols => ['AAPL'] }, 'recv_json';
    $ws->send_ping('p1');
    $ws->send_text('ping-me');
    is $ws->recv(5), 'ping-me', 'echo after a server ping';
    is_deeply $ws->pongs, ['p1'], 'our ping was answered with a pong';
    is_deeply $ws->pings, ['srv'], 'the server ping was seen (and answered)';
    my $big = 'x' x 200_000;
    $ws->send_text($big);
    is length($ws->recv(5) // ''), 200_000, 'a 200 kB message both ways';
    is $ws->close(1000, 'bye'), 1000, 'close handshake: server echoes 1000';
    ok !$ws->is_open, 'closed';

    my $refused = ws_connect($ng->ws_url('/missing'), allow_fail => 1);
    is $refused->status, 404, 'ws_connect allow_fail: the refusal status';
    like $refused->body, qr/not_found/, '... and its body';
    ok !eval { ws_connect($ng->ws_url('/missing')); 1 }, 'ws_connect dies on refusal';

    # Processes, reload, log.
    my @workers = $ng->worker_pids;
    is scalar(@workers), 2, 'two workers';
    ok $ng->reload, 'reload: new workers';
    my %old = map { $_ => 1 } @workers;
    ok Kx::Test::wait_until(sub { !grep { $old{$_} } $ng->worker_pids }, timeout => 10),
        'old workers gone after reload';
    like $ng->error_log, qr/\[notice\]/, 'error_log readable';

    open my $fh, '>>', $ng->prefix . '/logs/error.log' or die $!;
    print {$fh} "2025/01/01 00:00:00 [crit] 1#1: kx-harness-selftest fake\n";
    close $fh;
    is scalar($ng->log_problems), 1, 'log check finds a [crit] line';
    $ng->allow_log(qr/kx-harness-selftest/);
    is scalar($ng->log_problems), 0, 'allow_log whitelists it';

    # Stopping leaves nothing behind.
    my @procs = ($ng->pids, $pg->pids, $redis->pids);
    ok @procs >= 6, 'processes before stop: ' . scalar(@procs);
    my @dirs = ($ng->prefix, $pg->dir, $redis->dir);
    $ng->stop;
    $redis->stop;
    $pg->stop;
    ok Kx::Test::wait_until(sub { !grep { Kx::Test::_alive($_) } @procs }, timeout => 5),
        'no process left after stop';
    ok !(grep { -e $_ } @dirs) || $ENV{KX_KEEP}, 'temp dirs removed';

    kill 'TERM', $ws_pid;
    waitpid $ws_pid, 0;
}

# Stop when something was left to END: stop_all is idempotent.
Kx::Test::stop_all();
ok 1, 'stop_all';

done_testing;

# A single-process WebSocket echo server: echoes text/binary, answers pings,
# sends a ping 'srv' before echoing "ping-me", echoes close frames.
sub start_ws_echo {
    my ($port) = @_;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                       Listen => 16, ReuseAddr => 1)
        or die "listen $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) { close $listen; return $pid }
    $SIG{TERM} = sub { POSIX::_exit(0) };
    while (my $c = $listen->accept) {
        binmode $c;
        my $hs = Protocol::WebSocket::Handshake::Server->new;
        my $buf = '';
        while (!$hs->is_done) {
            my $n = sysread($c, $buf, 65536, length $buf) or last;
            $hs->parse($buf) or last;
        }
        next unless $hs->is_done;
        syswrite $c, $hs->to_string;
        my $frame = Protocol::WebSocket::Frame->new(max_payload_size => 0);
        my $send = sub {
            my ($type, $payload) = @_;
            my $f = Protocol::WebSocket::Frame->new(buffer => $payload, type => $type,
                                                    max_payload_size => 0);
            my $bytes = $f->to_bytes;
            my $off = 0;
            while ($off < length $bytes) {
                my $w = syswrite($c, $bytes, length($bytes) - $off, $off);
                return unless defined $w;
                $off += $w;
            }
        };
        CONN: while (1) {
            my $chunk = '';
            my $n = sysread($c, $chunk, 65536) or last;
            $frame->append($chunk);
            while (defined(my $msg = $frame->next_bytes)) {
                if ($frame->is_ping) { $send->(pong => $msg); next }
                if ($frame->is_pong) { next }
                if ($frame->is_close) { $send->(close => $msg); last CONN }
                my $type = $frame->is_binary ? 'binary' : 'text';
                $send->(ping => 'srv') if $msg eq 'ping-me';
                $send->($type => $msg);
            }
        }
        close $c;
    }
    POSIX::_exit(0);
}
