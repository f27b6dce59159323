#!/usr/bin/perl

# The quote publisher (modules/kx_market_publish.c; contracts C1 and C2):
# worker 0 of a 2-worker market instance ticks the shared simulated market
# and PUBLISHes each changed quote on kx:quote:<SYM>; a raw Redis client
# subscribes.  Quotes answered over HTTP by either worker are the published
# ones (same timestamp, same prices), with Redis up (read from the cache
# the publisher fills) and down (read from the shared market).  In
# "always" hours nothing is published on kx:market; the transitions
# themselves are unit-tested (t/unit/test_market_session.c).

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use Kx::Test;

my $redis = start_redis();

my $ng = start_nginx(<<'CONF', redis => $redis);
master_process on;
worker_processes 2;
events { worker_connections 1024; }
http {
    access_log off;

    kx_service market;
    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 1s;
    kx_redis_backoff 50ms 200ms;

    kx_market_hours always;
    kx_market_publish_interval 100ms;

    server {
        listen 127.0.0.1:%%PORT%% reuseport;

        add_header X-Worker $pid always;

        location /v1/ { kx_route market; kx_market; }
        location = /metrics { kx_metrics; }
    }
}
CONF

my $port = $ng->port;

sub get { return $ng->http(GET => $_[0], timeout => 10) }

my @channels = qw(kx:quote:AAPL kx:quote:TSLA kx:market);

my $sub = $redis->connect(timeout => 5);
$sub->send_command('SUBSCRIBE', @channels);
for (@channels) {
    my $r = $sub->read_reply(5);
    is ref $r eq 'ARRAY' ? "$r->[0] $r->[1]" : '', "subscribe $_", "subscribed to $_";
}

# channel => [message, ...], with the time each arrived
my %msgs;
sub drain {
    my ($secs) = @_;
    my $deadline = time + $secs;
    while ((my $left = $deadline - time) > 0) {
        my $r = $sub->read_reply($left);
        last unless $sub->{got};
        next unless ref $r eq 'ARRAY' && $r->[0] eq 'message';
        push @{ $msgs{ $r->[1] } }, $r->[2];
    }
}

drain(1.5);

# --- C1: the quote messages --------------------------------------------------

my @aapl = @{ $msgs{'kx:quote:AAPL'} // [] };
cmp_ok scalar @aapl, '>=', 8, scalar(@aapl) . ' AAPL quotes in 1.5 s at 100 ms';
cmp_ok scalar @{ $msgs{'kx:quote:TSLA'} // [] }, '>=', 8, 'TSLA quotes too';

my $dec = qr/^\d+\.\d+$/;
my ($bad_shape, $bad_time, $prev) = (0, 0, '');
for my $m (@aapl) {
    my $q = json_decode($m);
    $bad_shape++ unless $m =~ /^\{"type":"quote",/ && $m !~ /\n/
        && $q && $q->{symbol} eq 'AAPL'
        && (grep { ($q->{$_} // '') =~ $dec } qw(price bid ask open prev_close)) == 5
        && ($q->{change_percent} // '') =~ /^-?\d+\.\d\d$/
        && ($q->{bid_size} // '') =~ /^\d+$/ && ($q->{ask_size} // '') =~ /^\d+$/
        && ($q->{timestamp} // '') =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    $bad_time++ unless $q && $q->{timestamp} gt $prev;
    $prev = $q->{timestamp} if $q;
}
is $bad_shape, 0, 'every message: one line, {"type":"quote", then the quote fields';
is $bad_time, 0, 'timestamps strictly increase';

is scalar @{ $msgs{'kx:market'} // [] }, 0,
    'always hours: no market.opened/closed events';

# the publisher fills the cache: reads are hits
my $pttl = $redis->command('PTTL', 'kx:mkt:sim-42-always:quote:MSFT');
ok $pttl > 0 && $pttl <= 1000, "the publisher caches every quote ($pttl ms left of 1 s)";

sub counter {
    my ($name, $kind) = @_;
    my $text = get('/metrics')->{body};
    return $text =~ /^kx_market_${name}\{service="market",kind="$kind"\} (\d+)$/m ? $1 : 0;
}
my $hits = counter('cache_hits_total', 'quote');
my $misses = counter('cache_misses_total', 'quote');
get('/v1/quotes/MSFT') for 1 .. 5;
is counter('cache_hits_total', 'quote') - $hits, 5, 'five reads, five hits';
is counter('cache_misses_total', 'quote') - $misses, 0, '... no misses';
like get('/metrics')->{body}, qr/^kx_market_quotes_published_total\{service="market"\} \d+$/m,
    'published quotes are counted';

# --- consistency: HTTP answers are published quotes -------------------------

# every quote heard since the (last) SUBSCRIBE counts: a cached answer may
# be a quote published a tick before the check began
sub check_consistency {
    my ($label, $n) = @_;
    my (%pids, @answers);
    for (1 .. $n) {
        my $r = get('/v1/quotes/AAPL');
        push @answers, $r;
        $pids{ $r->{headers}{'x-worker'} // '' }++;
        drain(0.005);
    }
    drain(0.4);

    my %published = map { my $q = json_decode($_); ($q->{timestamp} => $q) }
                    @{ $msgs{'kx:quote:AAPL'} // [] };
    my ($ok, $missing, $differ) = (0, 0, 0);
    for my $r (@answers) {
        my $q = $r->{json};
        my $p = $published{ $q->{timestamp} // '' };
        if (!$p) { $missing++; next }
        if (grep { ($p->{$_} // '') ne ($q->{$_} // '') }
                qw(price bid ask bid_size ask_size open prev_close change_percent))
        {
            $differ++;
            next;
        }
        $ok++;
    }
    is scalar(grep { $_->{status} == 200 } @answers), $n, "$label: $n answers 200";
    cmp_ok scalar(keys %pids), '>=', 2, "$label: both workers answered ("
        . join(', ', map { "$_: $pids{$_}" } sort keys %pids) . ')';
    is $differ, 0, "$label: no answer differs from the quote published with its timestamp";
    is $missing, 0, "$label: every answer's timestamp was published";
    return \@answers;
}

check_consistency('redis up', 60);

# Redis down: no cache, no PUBLISH, but the workers still share one market
$redis->down;
sleep 0.3;

my (%pids, %by_ts, $n200);
for (1 .. 60) {
    my $r = get('/v1/quotes/AAPL');
    $n200++ if $r->{status} == 200;
    $pids{ $r->{headers}{'x-worker'} // '' }++;
    push @{ $by_ts{ $r->{json}{timestamp} // '' } }, $r->{body};
    sleep 0.01;     # over several ticks of the publisher
}
is $n200, 60, 'redis down: 60 answers 200';
cmp_ok scalar(keys %pids), '>=', 2, 'redis down: from both workers';
my $split = grep { my %b = map { $_ => 1 } @$_; keys %b > 1 } values %by_ts;
is $split, 0, 'redis down: answers with the same timestamp are identical';
cmp_ok scalar(keys %by_ts), '>=', 2, 'redis down: ... and the market moves ('
    . scalar(keys %by_ts) . ' ticks seen)';

# back up: the subscriber reconnects, publishing resumes
$redis->up;
$sub = $redis->connect(timeout => 5);
$sub->send_command('SUBSCRIBE', @channels);
$sub->read_reply(5) for @channels;
%msgs = ();
ok wait_until(sub { drain(0.2); @{ $msgs{'kx:quote:AAPL'} // [] } >= 2 },
              timeout => 5),
    'redis back: quotes are published again';

check_consistency('redis back', 30);

# a reload: the new worker 0 publishes, the shared market goes on
my $last = json_decode($msgs{'kx:quote:AAPL'}[-1])->{timestamp};
$ng->reload;
%msgs = ();
ok wait_until(sub { drain(0.2); @{ $msgs{'kx:quote:AAPL'} // [] } >= 3 },
              timeout => 10),
    'after a reload: quotes are published';
my @after = map { json_decode($_)->{timestamp} } @{ $msgs{'kx:quote:AAPL'} // [] };
is scalar(grep { $_ le $last } @after), 0,
    '... newer than before the reload, never repeated';
my %seen;
is scalar(grep { $seen{$_}++ } @after), 0, '... by one publisher (no duplicates)';

$sub->close;
$ng->stop;
# its publisher lease (t/market_lease.t) would keep the next instance from
# publishing for up to kx_market_publish_lease: free it rather than wait
$redis->command('DEL', 'kx:market:publisher');

# --- C2: session transitions, on a market clock set just before them -------

use Time::Local qw(timegm);

# Wednesday 2026-11-25: NYSE opens 14:30 UTC and closes 21:00 UTC
for my $case (['market.opened', timegm(0, 30, 14, 25, 10, 2026)],
              ['market.closed', timegm(0, 0, 21, 25, 10, 2026)])
{
    my ($type, $at) = @$case;
    my $offset = int(($at - 2.5 - time) * 1000);

    my $s = $redis->connect(timeout => 5);
    $s->send_command('SUBSCRIBE', 'kx:market', 'kx:quote:AAPL');
    $s->read_reply(5) for 1 .. 2;

    my $nyse = start_nginx(<<"CONF", redis => $redis);
master_process on;
worker_processes 2;
events { worker_connections 1024; }
http {
    access_log off;
    kx_service market;
    kx_redis_addr %%REDIS_ADDR%%;
    kx_market_hours nyse;
    kx_market_clock_offset ${offset}ms;
    kx_market_publish_interval 100ms;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ { kx_route market; kx_market; }
    }
}
CONF

    my (@events, @quotes);
    my $deadline = time + 8;
    while (time < $deadline && !@events) {
        my $r = $s->read_reply($deadline - time);
        last unless $s->{got};
        next unless ref $r eq 'ARRAY' && $r->[0] eq 'message';
        push @{ $r->[1] eq 'kx:market' ? \@events : \@quotes }, $r->[2];
    }
    # a few ticks more, to see the quotes after the transition
    my $until = time + 0.6;
    while ((my $left = $until - time) > 0) {
        my $r = $s->read_reply($left);
        last unless $s->{got};
        push @{ $r->[1] eq 'kx:market' ? \@events : \@quotes }, $r->[2]
            if ref $r eq 'ARRAY' && $r->[0] eq 'message';
    }

    my $iso = do {
        my @t = gmtime $at;
        sprintf '%04d-%02d-%02dT%02d:%02d:%02d.000Z', $t[5] + 1900, $t[4] + 1,
            @t[3, 2, 1, 0];
    };
    is scalar @events, 1, "$type: one event on kx:market";
    is $events[0] // '', qq({"type":"$type","at":"$iso"}),
        "$type: the C2 message, stamped with the transition's instant";

    my @ts = map { json_decode($_)->{timestamp} } @quotes;
    if ($type eq 'market.opened') {
        ok((grep { $_ lt $iso } @ts) <= 1,
           'before the open: at most the last close is published');
        cmp_ok scalar(grep { $_ ge $iso } @ts), '>=', 3,
            'after the open: quotes flow';
    } else {
        ok((grep { $_ lt $iso } @ts) >= 3, 'before the close: quotes flow');
        is scalar(grep { $_ gt $iso } @ts), 0,
            'after the close: nothing newer than the close';
    }

    $s->close;
    $nyse->stop;
    $redis->command('DEL', 'kx:market:publisher');
}

done_testing;
