# The PostgreSQL client on the nginx event loop (modules/io/kx_pg.c),
# through the test handlers of ngx_http_kx_iotest_module: a server that is
# down at start, stalled, killed mid-transaction; statement timeouts;
# clients that go away; 1000 concurrent requests through a pool of 4.

use strict;
use warnings;

use lib 't/lib';

use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use Kx::Test;

my $APP = 'kx_io_pg_t';

my $pg = start_pg(migrate => 0);
$pg->psql('CREATE TABLE public.kx_iotest_txn (tag text NOT NULL, i int)');

# PostgreSQL is down when nginx starts.
$pg->down;

my $ng = start_nginx(<<'CONF', pg => $pg, vars => { APP => $APP });
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;

    kx_pg_conninfo "%%PG_CONNINFO%% application_name=%%APP%%";
    kx_pg_pool_size 4;
    kx_pg_queue_size 2000;
    kx_pg_queue_timeout 30s;
    kx_pg_connect_timeout 1s;
    kx_pg_query_timeout 2s;
    kx_pg_backoff 50ms 500ms;
    kx_health_timeout 1500ms;

    server {
        listen 127.0.0.1:%%PORT%% backlog=4096;

        location = /ping    { kx_iotest_ping; }
        location = /select1 { kx_iotest_pg_select1; }
        location = /sleep   { kx_iotest_pg_sleep; }
        location = /txn     { kx_iotest_pg_txn; }
        location = /pool    { kx_iotest_pg_pool; }
        location = /big     { kx_iotest_pg_big; }
        location = /health  { kx_health; }
    }
}
CONF

our $port = $ng->port;

sub get { return $ng->http(GET => $_[0], timeout => $_[1] // 10) }

# the harness's raw clients, on this test's port
sub start_request { return http_start($port, $_[0]) }
sub finish_request { my ($s, $timeout) = @_; return http_finish($s, time, $timeout) }
sub concurrent { return http_concurrent($port, @_) }

sub pool_stats { return get('/pool')->{json} }

sub select1_ok {
    my $r = get('/select1?v=7');
    return $r->{status} == 200 && ($r->{json}{value} // 0) == 7;
}

sub backends {
    return $pg->value("SELECT count(*) FROM pg_stat_activity "
                      . "WHERE application_name = '$APP'");
}

sub rows_of {
    my ($tag) = @_;
    return $pg->value("SELECT count(*) FROM public.kx_iotest_txn "
                      . "WHERE tag = '$tag'");
}

# --- PostgreSQL down at start -------------------------------------------------

{
    my $t = time;
    my $r = get('/select1?v=1');
    my $secs = time - $t;
    is $r->{status}, 503, 'pg down at start: 503';
    is $r->{json}{error}{code}, 'database_unavailable', '... JSON error code';
    ok $secs < 0.5, sprintf('... answered quickly (%.3f s)', $secs);
    is $r->{headers}{'retry-after'}, '1', '... with Retry-After';

    $r = get('/health');
    is $r->{status}, 503, 'health: 503 while pg is down';
    is_deeply $r->{json}{failed}, ['postgres'], '... naming postgres';

    is get('/ping')->{status}, 200, 'requests without pg are answered';

    $pg->up;
    ok wait_until(\&select1_ok, timeout => 15),
        'pg started: requests succeed without an nginx restart';

    $r = get('/health');
    is $r->{status}, 200, 'health: 200 when pg is up';
    ok $r->{json}{checks}{postgres}{ok}, '... postgres ok';
}

# --- statements and transactions ----------------------------------------------

{
    my $r = get('/select1?v=-12345');
    is_deeply $r->{json}, { value => -12345 }, 'SELECT $1::int with a parameter';

    $r = get('/select1?v=' . "1%27%3B%20DROP%20TABLE%20x%3B--");
    is $r->{status}, 500, 'a malformed parameter is a SQL error, not SQL';
    is $r->{json}{error}{code}, 'database_error', '... database_error';

    $r = get('/txn?tag=commit&n=5');
    is_deeply $r->{json}, { committed => JSON::PP::true, rows => 5 },
        'transaction committed';
    is rows_of('commit'), 5, '... all 5 rows written';

    $r = get('/txn?tag=failed&n=5&fail=1');
    is $r->{status}, 500, 'transaction with a failing statement: 500';
    is rows_of('failed'), 0, '... rolled back: no row written';

    is get('/select1?v=3')->{json}{value}, 3,
        'the pool is fine after a rolled-back transaction';

    # far more than libpq reads at once: level-triggered events finish it
    $r = get('/big?n=' . 8 * 1024 * 1024);
    is_deeply $r->{json}, { length => 8 * 1024 * 1024, intact => JSON::PP::true },
        'an 8 MB result arrives whole';
    my @r = concurrent([('/big?n=1000000') x 8], 30);
    is scalar(grep { $_ && ($_->{json}{length} // 0) == 1000000
                     && $_->{json}{intact} } @r), 8,
        '... and 8 results of 1 MB at once on 4 connections';
}

# --- statement timeout --------------------------------------------------------

{
    # four connections, so that one is idle when the sleeper times out
    my @r = concurrent([('/sleep?s=0.2') x 4], 10);
    is scalar(grep { $_ && $_->{status} == 200 } @r), 4, 'warm-up: 4 sleeps';

    my $t = time;
    my $r = get('/sleep?s=5');
    my $secs = time - $t;
    is $r->{status}, 504, 'pg_sleep(5) with a 2 s query timeout: 504';
    is $r->{json}{error}{code}, 'database_timeout', '... database_timeout';
    ok $secs >= 1.9 && $secs < 3, sprintf('... after the timeout (%.2f s)',
                                          $secs);

    ok wait_until(sub {
            !$pg->value("SELECT count(*) FROM pg_stat_activity "
                        . "WHERE application_name = '$APP' "
                        . "AND query LIKE 'SELECT pg_sleep%' "
                        . "AND state = 'active'")
        }, timeout => 2),
        '... and the statement no longer runs on the server';

    $r = get('/sleep?s=1&t=300');
    is $r->{status}, 504, 'a per-statement timeout (300 ms): 504';

    ok select1_ok(), 'queries work after timeouts';
    is pool_stats()->{timeouts}, 2, 'pool counted 2 timeouts';
}

# --- a client that goes away --------------------------------------------------

{
    my ($s) = start_request('/sleep?s=0.5');
    sleep 0.1;
    close $s;

    my ($s2) = start_request('/txn?tag=abort&n=3&sleep=0.5');
    sleep 0.3;
    close $s2;

    ok wait_until(sub { pool_stats()->{busy} == 0 }, timeout => 5),
        'client gone: its connections go back to the pool';
    is rows_of('abort'), 0, '... its transaction rolled back';
    ok select1_ok(), '... and the pool works';
    like $ng->error_log, qr/client prematurely closed connection/,
        '... nginx noticed the client leaving';
}

# --- PostgreSQL stalled -------------------------------------------------------

{
    ok select1_ok(), 'stall: a warm pool first';

    $pg->kill_stop;

    my ($s, $t0) = start_request('/select1?v=5');

    my ($slow, $max) = (0, 0);
    for (1 .. 100) {
        my $t = time;
        my $r = get('/ping', 2);
        my $ms = (time - $t) * 1000;
        $max = $ms if $ms > $max;
        $slow++ if $r->{status} != 200 || $ms > 100;
        sleep 0.01;
    }
    is $slow, 0, sprintf('stall: 100 pings on the same worker, each within '
                         . '100 ms (slowest %.1f ms)', $max);

    my $r = finish_request($s, 10);
    my $secs = time - $t0;
    is $r->{status}, 504, 'stall: the pg request gets 504';
    is $r->{json}{error}{code}, 'database_timeout', '... JSON database_timeout';
    ok $secs < 3, sprintf('... within its timeout (%.2f s)', $secs);

    $r = get('/health', 5);
    is $r->{status}, 503, 'stall: health 503';
    is_deeply $r->{json}{failed}, ['postgres'], '... naming postgres';

    $pg->kill_cont;

    ok wait_until(\&select1_ok, timeout => 15),
        'after CONT everything works';
    ok wait_until(sub { get('/health')->{status} == 200 }, timeout => 10),
        '... health 200 again';
}

# --- PostgreSQL killed mid-transaction ----------------------------------------

{
    my ($s, $t0) = start_request('/txn?tag=killed&n=4&sleep=1');

    # rows 0 and 1 are in; the transaction sleeps before row 2
    ok wait_until(sub {
            $pg->value("SELECT count(*) FROM pg_stat_activity "
                       . "WHERE application_name = '$APP' "
                       . "AND query LIKE 'SELECT pg_sleep%'")
        }, timeout => 5),
        'killed: the transaction is under way';

    $pg->down(immediate => 1);

    my $r = finish_request($s, 10);
    is $r->{status}, 503, 'killed: the transaction is reported failed (503)';
    is $r->{json}{error}{code}, 'database_connection_lost',
        '... database_connection_lost';

    $r = get('/select1?v=1');
    is $r->{status}, 503, 'killed: requests fail fast while it is down';

    $pg->up;
    ok wait_until(\&select1_ok, timeout => 15), 'restarted: requests succeed';
    is rows_of('killed'), 0, '... and nothing was half-written';
}

# --- 1000 concurrent requests through a pool of 4 -----------------------------

{
    # a monitor samples the pool and the server while the load runs
    my $mon_file = $ng->prefix . '/monitor.txt';
    my $mon = fork // die "fork: $!";
    if (!$mon) {
        my ($max_busy, $max_total, $max_backends, $samples) = (0, 0, 0, 0);
        local $SIG{TERM} = sub {
            open my $fh, '>', $mon_file or POSIX::_exit(1);
            print {$fh} "$max_busy $max_total $max_backends $samples\n";
            close $fh;
            POSIX::_exit(0);
        };
        while (1) {
            my $st = eval { pool_stats() } // {};
            $max_busy = $st->{busy} if ($st->{busy} // 0) > $max_busy;
            $max_total = $st->{total} if ($st->{total} // 0) > $max_total;
            my $b = eval { backends() } // 0;
            $max_backends = $b if $b > $max_backends;
            $samples++;
            sleep 0.02;
        }
    }

    sleep 0.3;
    my @paths = map { $_ % 2 ? "/select1?v=$_" : '/sleep?s=0.01' } 0 .. 999;
    my $t = time;
    my @r = concurrent(\@paths, 60);
    my $secs = time - $t;

    kill 'TERM', $mon;
    waitpid $mon, 0;

    my ($ok, $wrong) = (0, 0);
    for my $i (0 .. 999) {
        my $x = $r[$i];
        if (!$x || $x->{status} != 200) { next }
        if ($i % 2) { ($x->{json}{value} // -1) == $i ? $ok++ : $wrong++ }
        else        { defined $x->{json}{slept} ? $ok++ : $wrong++ }
    }
    is $ok, 1000, sprintf('1000 concurrent requests: all answered 200 '
                          . '(%.2f s)', $secs);
    is $wrong, 0, '... each with its own answer';

    open my $fh, '<', $mon_file or die "monitor: $!";
    my ($max_busy, $max_total, $max_backends, $samples) = split ' ', <$fh>;
    close $fh;
    diag "monitor: $samples samples, busy <= $max_busy, "
         . "connections <= $max_total, backends <= $max_backends";
    ok $samples >= 5, 'the monitor sampled during the load';
    ok $max_busy >= 2 && $max_busy <= 4, "pool busy never above 4 ($max_busy)";
    ok $max_backends <= 4, "server backends never above 4 ($max_backends)";

    my $st = pool_stats();
    ok $st->{max_seen_busy} <= 4 && $st->{max_seen_total} <= 4,
        "the pool's own high-water marks: busy $st->{max_seen_busy}, "
        . "total $st->{max_seen_total}";
    is $st->{waiting}, 0, '... nothing left waiting';
}

# --- queue limits: a pool of 1 with a queue of 1 -----------------------------

{
    my $small = start_nginx(<<'CONF', pg => $pg);
master_process on;
worker_processes 1;
events { worker_connections 256; }
http {
    access_log off;
    kx_pg_conninfo "%%PG_CONNINFO%%";
    kx_pg_pool_size 1;
    kx_pg_queue_size 1;
    kx_pg_queue_timeout 300ms;
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /sleep { kx_iotest_pg_sleep; }
        location = /pool  { kx_iotest_pg_pool; }
    }
}
CONF
    ok wait_until(sub { $small->http(GET => '/sleep?s=0')->{status} == 200 },
                  timeout => 10), 'small pool: connected';

    my $sp = $small->port;
    local $port = $sp;
    my ($a) = start_request('/sleep?s=1');
    sleep 0.1;
    my ($b) = start_request('/sleep?s=0');
    sleep 0.05;
    my $t = time;
    my $r = $small->http(GET => '/sleep?s=0');
    is $r->{status}, 503, 'queue full: 503 at once';
    is $r->{json}{error}{code}, 'database_busy', '... database_busy';
    ok time - $t < 0.2, '... without waiting';

    $r = finish_request($b, 5);
    is $r->{status}, 503, 'queue timeout (300 ms) while the connection is busy: 503';
    is $r->{json}{error}{code}, 'database_busy', '... database_busy';

    $r = finish_request($a, 5);
    is $r->{status}, 200, 'the statement holding the connection finishes';

    my $st = $small->http(GET => '/pool')->{json};
    is $st->{rejected}, 2, 'the pool counted 2 rejections';
    ok $st->{max_seen_total} == 1, 'and never opened a second connection';
    $small->stop;
}

# --- worker exit --------------------------------------------------------------

{
    # a graceful reload lets a statement in flight finish: its timer is
    # not cancelable, so the old worker waits for it
    my ($s) = start_request('/sleep?s=1');
    sleep 0.2;
    ok $ng->reload, 'reload: the old worker exits with its pool';
    my $r = finish_request($s, 5);
    is $r->{status}, 200, '... after the statement in flight finished';
    ok wait_until(\&select1_ok, timeout => 10), '... the new one serves';
}

$ng->stop;

ok wait_until(sub { !backends() }, timeout => 5),
    'nginx stopped: every server connection closed';

done_testing;
