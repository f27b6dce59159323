# The Redis client on the nginx event loop (modules/io/kx_redis.c), through
# the test handlers of ngx_http_kx_iotest_module: a server that is down at
# start, stalled, restarted; pub/sub resubscription; clients that go away;
# 1000 concurrent commands pipelined on one connection.

use strict;
use warnings;

use lib 't/lib';

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time sleep);

use Kx::Test;

my $redis = start_redis();

# Redis is down when nginx starts.
$redis->down;

my $ng = start_nginx(<<'CONF', redis => $redis);
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;

    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 1s;
    kx_redis_backoff 50ms 500ms;
    kx_health_timeout 1500ms;

    server {
        listen 127.0.0.1:%%PORT%% backlog=4096;

        location = /ping   { kx_iotest_ping; }
        location = /redis  { kx_iotest_redis; }
        location = /sub    { kx_iotest_redis_sub; }
        location = /health { kx_health; }
    }
}
CONF

my $port = $ng->port;

sub get { return $ng->http(GET => $_[0], timeout => $_[1] // 10) }

# the harness's raw clients, on this test's port
sub start_request { return http_start($port, $_[0]) }
sub finish_request { my ($s, $timeout) = @_; return http_finish($s, time, $timeout) }
sub concurrent { return http_concurrent($port, @_) }

# one worker on $redis: the http block's extra directives, then locations
sub small_nginx {
    my ($r, $http, @locations) = @_;
    my $locs = join "\n", map { "        $_" } @locations;
    return start_nginx(<<"CONF", redis => $r);
master_process on;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    kx_redis_addr %%REDIS_ADDR%%;
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
$locs
    }
}
CONF
}

sub redis_ok {
    my $r = get('/redis?key=kx:t:ok&value=fine');
    return $r->{status} == 200 && ($r->{json}{value} // '') eq 'fine';
}

sub sub_state { return get('/sub?channel=kx:t:quotes')->{json} }

# --- Redis down at start ------------------------------------------------------

{
    my $t = time;
    my $r = get('/redis?key=a&value=b');
    my $secs = time - $t;
    is $r->{status}, 503, 'redis down at start: 503';
    is $r->{json}{error}{code}, 'redis_unavailable', '... JSON error code';
    ok $secs < 0.5, sprintf('... answered quickly (%.3f s)', $secs);

    $r = get('/health');
    is $r->{status}, 503, 'health: 503 while redis is down';
    is_deeply $r->{json}{failed}, ['redis'], '... naming redis';

    is get('/ping')->{status}, 200, 'requests without redis are answered';

    # a subscription made while redis is down waits for it
    ok !sub_state()->{subscribed}, 'subscribe while down: not yet subscribed';

    $redis->up;
    ok wait_until(\&redis_ok, timeout => 15),
        'redis started: requests succeed without an nginx restart';
    ok wait_until(sub { sub_state()->{subscribed} }, timeout => 10),
        '... and the subscription is made';

    $r = get('/health');
    is $r->{status}, 200, 'health: 200 when redis is up';
    ok $r->{json}{checks}{redis}{ok}, '... redis ok';
}

# --- commands -----------------------------------------------------------------

{
    my $v = "caf\x{e9} \"quoted\" a+b&c=d \\ end";
    my $bytes = $v;
    utf8::encode($bytes);
    my $q = join '', map { sprintf '%%%02X', ord } split //, $bytes;
    my $r = get("/redis?key=kx:t:bin&value=$q");
    is $r->{status}, 200, 'SET/GET round trip';
    is $r->{json}{value}, $v, '... binary-safe value (UTF-8, quotes, spaces)';
    is $redis->command(GET => 'kx:t:bin'), $bytes, '... as stored in redis';

    # far more than hiredis reads at once (16 KB): level-triggered events
    $r = get('/redis?key=kx:t:big&size=' . 4 * 1024 * 1024);
    is_deeply $r->{json}, { length => 4 * 1024 * 1024, intact => JSON::PP::true },
        'a 4 MB value both ways';
    my @r = concurrent([map { "/redis?key=kx:t:big$_&size=500000" } 1 .. 8], 30);
    is scalar(grep { $_ && ($_->{json}{length} // 0) == 500000
                     && $_->{json}{intact} } @r), 8,
        '... and 8 values of 500 kB pipelined at once';
}

# --- pub/sub ------------------------------------------------------------------

{
    my $before = sub_state();
    $redis->command(PUBLISH => 'kx:t:quotes', 'AAPL 150.25');
    ok wait_until(sub { sub_state()->{messages} > $before->{messages} },
                  timeout => 5),
        'pub/sub: the message arrives';
    is sub_state()->{last}, 'AAPL 150.25', '... with its payload';

    my $subscribes = sub_state()->{subscribes};
    $redis->restart;

    ok wait_until(sub { sub_state()->{subscribes} > $subscribes }, timeout => 10),
        'redis restarted: subscribed again';
    my $st = sub_state();
    ok $st->{losses} >= 1, "... after a reported loss ($st->{losses})";
    ok $st->{subscribed}, '... subscribed now';

    $redis->command(PUBLISH => 'kx:t:quotes', 'MSFT 420.5');
    ok wait_until(sub { sub_state()->{last} eq 'MSFT 420.5' }, timeout => 5),
        '... and messages flow again';

    ok wait_until(\&redis_ok, timeout => 10),
        'the command connection reconnected too';
}

# --- Redis stalled ------------------------------------------------------------

{
    ok redis_ok(), 'stall: connected first';

    $redis->kill_stop;

    my ($s, $t0) = start_request('/redis?key=kx:t:stall&value=x');

    # a client that gives up while its command hangs
    my ($gone) = start_request('/redis?key=kx:t:gone&value=y');
    sleep 0.05;
    close $gone;

    my ($slow, $max) = (0, 0);
    for (1 .. 100) {
        my $t = time;
        my $r = get('/ping', 2);
        my $ms = (time - $t) * 1000;
        $max = $ms if $ms > $max;
        $slow++ if $r->{status} != 200 || $ms > 100;
        sleep 0.005;
    }
    is $slow, 0, sprintf('stall: 100 pings on the same worker, each within '
                         . '100 ms (slowest %.1f ms)', $max);

    my $r = finish_request($s, 10);
    my $secs = time - $t0;
    is $r->{status}, 504, 'stall: the redis request gets 504';
    is $r->{json}{error}{code}, 'redis_timeout', '... JSON redis_timeout';
    ok $secs < 2, sprintf('... within its timeout (%.2f s)', $secs);

    $r = get('/health', 5);
    is $r->{status}, 503, 'stall: health 503';
    is_deeply $r->{json}{failed}, ['redis'], '... naming redis';

    $redis->kill_cont;

    ok wait_until(\&redis_ok, timeout => 15), 'after CONT everything works';
    ok wait_until(sub { get('/health')->{status} == 200 }, timeout => 10),
        '... health 200 again';

    $redis->command(PUBLISH => 'kx:t:quotes', 'after stall');
    ok wait_until(sub { sub_state()->{last} eq 'after stall' }, timeout => 5),
        '... the subscription survived the stall';
}

# --- 1000 concurrent commands -------------------------------------------------

{
    my @paths = map { "/redis?key=kx:t:c$_&value=v$_" } 0 .. 999;
    my $t = time;
    my @r = concurrent(\@paths, 60);
    my $secs = time - $t;

    my $ok = grep {
        $r[$_] && $r[$_]{status} == 200 && ($r[$_]{json}{value} // '') eq "v$_"
    } 0 .. 999;
    is $ok, 1000, sprintf('1000 concurrent SET/GET: all answered, each its own '
                          . 'value (%.2f s)', $secs);
    is $redis->command(GET => 'kx:t:c999'), 'v999', '... stored in redis';
}

# --- down while running -------------------------------------------------------

{
    $redis->down;
    my $t = time;
    my $r = get('/redis?key=a&value=b');
    is $r->{status}, 503, 'redis stopped: 503';
    ok time - $t < 0.5, '... at once';
    $redis->up;
    ok wait_until(\&redis_ok, timeout => 15), 'redis back: requests succeed';
    ok wait_until(sub { sub_state()->{subscribed} }, timeout => 10),
        '... subscribed again';
}

# --- worker exit --------------------------------------------------------------

{
    ok $ng->reload, 'reload: the old worker exits with its connections';
    ok wait_until(\&redis_ok, timeout => 10), '... the new one serves';
}

$ng->stop;

ok wait_until(sub {
        my $clients = $redis->command(CLIENT => 'LIST') // '';
        my $n = () = $clients =~ /^id=/mg;
        $n <= 1;      # the one asking
    }, timeout => 5),
    'nginx stopped: every redis connection closed';

# --- two subscriptions to one channel, ended in one dispatch -----------------

# The worker's only channel, subscribed twice; the first message's handler
# ends both.  One UNSUBSCRIBE must go out: hiredis 0.14 leaves subscribed
# mode on the first confirmation (count 0) and aborts the worker on a
# second one.
{
    my $one = small_nginx($redis, '',
                          'location = /pair { kx_iotest_redis_sub_pair; }');
    my $numsub = sub { $redis->command(PUBSUB => 'NUMSUB', 'kx:iotest:pair')->[1] };
    my $state = sub { $one->http(GET => '/pair')->{json} // {} };
    my ($pid) = $one->worker_pids;

    for my $round (1 .. 3) {
        $state->();
        ok wait_until(sub { $state->()->{subscribes} >= 2 * $round }, timeout => 5),
            "round $round: both subscriptions confirmed";
        is $numsub->(), 1, '... one channel at the server';
        $redis->command(PUBLISH => 'kx:iotest:pair', "m$round");
        ok wait_until(sub { $numsub->() == 0 }, timeout => 5),
            '... the message ends both: unsubscribed';
        my $st = $state->();
        is_deeply [ @$st{qw(messages ends)} ], [ $round, $round ],
            '... from inside the dispatch (the second handler did not run '
            . 'for a dead subscription)'
            or diag explain $st;
        is_deeply [ $one->worker_pids ], [ $pid ], '... and the worker lives';
    }
    $one->stop;
}

# --- a Unix socket ------------------------------------------------------------

# kx_redis_addr unix:path: a Redis on the same host without the TCP/IP
# stack per command; commands, pub/sub and reconnecting work as over TCP.
{
    my $ur = start_redis(unix => 1);
    like $ur->addr, qr{^unix:/.+/redis\.sock$}, 'a Redis on a Unix socket';

    my $un = small_nginx($ur, 'kx_redis_backoff 50ms 500ms;',
                         'location = /redis { kx_iotest_redis; }',
                         'location = /sub   { kx_iotest_redis_sub; }');
    my $ok = sub {
        my $r = $un->http(GET => '/redis?key=kx:t:unix&value=' . $_[0]);
        return $r->{status} == 200 && ($r->{json}{value} // '') eq $_[0];
    };
    ok $ok->('over-the-socket'), 'unix: SET/GET round trip';
    is $ur->command(GET => 'kx:t:unix'), 'over-the-socket',
        '... stored in that Redis';
    my $path = $ur->sock;
    my @clients = grep { /\bcmd=/ } split /\n/, $ur->command(CLIENT => 'LIST');
    my @unix = grep { /\baddr=\Q$path\E:0\b/ } @clients;
    ok @unix >= 1, '... nginx is connected through the socket'
        or diag join "\n", @clients;

    my $state = sub { $un->http(GET => '/sub?channel=kx:t:unixsub')->{json} // {} };
    ok wait_until(sub { $state->()->{subscribed} }, timeout => 10),
        'unix: subscribed';
    $ur->command(PUBLISH => 'kx:t:unixsub', 'over the socket');
    ok wait_until(sub { ($state->()->{last} // '') eq 'over the socket' },
                  timeout => 5), '... and the message arrives';

    $ur->restart;
    ok wait_until(sub { $ok->('again') }, timeout => 10),
        'unix: Redis restarted, the client reconnects through the socket';

    my $err = eval { start_nginx(<<'CONF'); 1 } ? '' : $@;
master_process on;
worker_processes 1;
events { worker_connections 64; }
http {
    kx_redis_addr unix:;
    server { listen 127.0.0.1:%%PORT%%; location = /redis { kx_iotest_redis; } }
}
CONF
    like $err, qr/no path in the unix domain socket in Redis address "unix:"/,
        'unix: without a path, the configuration is refused';

    $un->stop;
    $ur->stop;
}

done_testing;
