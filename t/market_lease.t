#!/usr/bin/perl

# The publisher lease (modules/kx_market_lease.c): two market instances on
# one Redis publish each quote once, not twice; the lease names the
# publishing instance; when it stops, the other takes over within the
# lease; without the lease (kx_market_publish_lease 0) both publish.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use Kx::Test;

my $redis = start_redis();

sub market {
    my ($lease) = @_;
    return start_nginx(<<"CONF", redis => $redis);
master_process on;
worker_processes 1;
events { worker_connections 256; }
http {
    access_log off;
    kx_service market;
    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 1s;
    kx_redis_backoff 50ms 200ms;
    kx_market_hours always;
    kx_market_publish_interval 50ms;
    kx_market_publish_lease $lease;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ { kx_market; }
    }
}
CONF
}

my $sub = $redis->connect(timeout => 5);
$sub->send_command('SUBSCRIBE', 'kx:quote:AAPL');
$sub->read_reply(5);

# AAPL quotes heard in $secs seconds
sub count {
    my ($secs) = @_;
    my ($n, $deadline) = (0, time + $secs);
    while ((my $left = $deadline - time) > 0) {
        my $r = $sub->read_reply($left);
        last unless $sub->{got};
        $n++ if ref $r eq 'ARRAY' && $r->[0] eq 'message';
    }
    return $n;
}

my $holder = sub { $redis->command('GET', 'kx:market:publisher') // '' };

# --- one instance: the rate of one publisher -------------------------------

my $a = market('600ms');
ok wait_until(sub { $holder->() ne '' }, timeout => 5), 'the lease is taken';
like $holder->(), qr/:$a->{pid}$/, "held by the instance (its master pid $a->{pid})";
count(0.3);
my $one = count(2);
cmp_ok $one, '>=', 20, "one publisher: $one AAPL quotes in 2 s at 50 ms";

# --- two instances: still one publisher ------------------------------------

my $b = market('600ms');
sleep 0.5;
count(0.2);
my $two = count(2);
cmp_ok $two, '<=', $one * 1.3, "two instances: $two quotes in 2 s, not twice $one";
cmp_ok $two, '>=', $one * 0.7, 'and not fewer';
like $holder->(), qr/:$a->{pid}$/, 'the first instance keeps the lease';
ok $b->wait_log(qr/another instance publishes quotes/, timeout => 3),
   'the second knows it is not publishing';

# --- a reload keeps the lease (the owner is the instance, not the worker) ---

ok $a->reload, 'the publishing instance reloads';
count(0.2);
my $reloaded = count(1.5);
cmp_ok $reloaded, '>=', 10, "quotes go on after the reload ($reloaded in 1.5 s)";
like $holder->(), qr/:$a->{pid}$/, 'still its lease';

# --- the publisher stops: the other takes over -------------------------------

my $t0 = time;
$a->stop;
my $took;
ok wait_until(sub { $holder->() =~ /:$b->{pid}$/ }, timeout => 3),
   'the other instance takes the lease';
count(0.3);
my $after = count(1.5);
cmp_ok $after, '>=', 10, "and publishes ($after quotes in 1.5 s)";
$b->stop;

# --- no lease: every instance publishes ----------------------------------------

$redis->command('DEL', 'kx:market:publisher');
my @both = (market('0'), market('0'));
sleep 0.5;
count(0.2);
my $dup = count(2);
cmp_ok $dup, '>=', $one * 1.6, "kx_market_publish_lease 0: both publish ($dup quotes)";
is $holder->(), '', 'and nobody takes a lease';

stop_all();
done_testing;
