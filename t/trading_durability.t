#!/usr/bin/perl

# Nothing accepted is lost: market orders under load through the shipped
# gateway to the shipped trading instance (with the real market service,
# PostgreSQL and Redis), while
#   1. the trading instance is killed (SIGKILL, master and workers) and
#      started again, and
#   2. PostgreSQL stops at once (immediate shutdown: no checkpoint, like a
#      crash) and starts again.
# Afterwards every order that got a 201 is in trading.orders, and once the
# outbox relay has caught up (and deleted what it published), every event
# of every order is in kx:events, once.
#
# PostgreSQL runs with synchronous_commit=on (the harness's default is off,
# which acknowledges commits that a crash of the server may lose); fsync
# stays off: the test kills processes, not the machine.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(time sleep);

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $CLIENTS = $ENV{KX_DURABILITY_CLIENTS} // 8;

my $ports = stack_ports();
my $pg = start_pg(settings => { synchronous_commit => 'on' });
my $redis = start_redis();

# what the trading instance and the gateway log while their dependencies
# are down or killed (errors, never alerts, are expected; these are not)
my @ALLOW = (qr/upstream prematurely closed/, qr/connect\(\) failed/);

my $mkt = start_instance('market', ports => $ports, pg => $pg,
                         redis => $redis);

sub start_trading {
    return start_instance('trading', ports => $ports, pg => $pg,
                          redis => $redis, workers => 2,
                          allow_log => [@ALLOW]);
}

my $trd = start_trading();

# the shipped gateway, with the order limits raised: the load is the point
my $gw_text = instance_conf('gateway', ports => $ports, pg => $pg,
                            redis => $redis, workers => 1);
$gw_text =~ s/(kx_rate_limit_zone\s+(?:general|orders)\s+key=\S+)\s+rate=\S+\s+burst=\d+/$1 rate=1000000r\/s burst=1000000/g;
my $gw = start_nginx($gw_text, vars => { PORT => $ports->{gateway} },
                     env => { KX_JWT_SECRET => $STACK_SECRET },
                     allow_log => [@ALLOW]);

my $url = $gw->url('/v1/orders');

# --- the load: one user per client, orders back to back -------------------

my $dir = Kx::Test::_tempdir('durability');

sub client {
    my ($n, $until) = @_;
    my $user = sprintf '%08x-0000-4000-8000-%012x', $$, $n;
    my $ua = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
    my %h = (Authorization => 'Bearer ' . stack_token($user),
             'Content-Type' => 'application/json');
    open my $out, '>', "$dir/client-$n" or die "$dir/client-$n: $!";
    select((select($out), $| = 1)[0]);
    my $i = 0;
    while (time < $until) {
        $i++;
        my $cid = "dur-$n-$i";
        my $r = $ua->post($url, { headers => \%h, content => json_encode({
            symbol => (qw(AAPL MSFT TSLA))[$i % 3], side => 'buy',
            type => 'market', quantity => '0.01',
            client_order_id => $cid }) });
        my $id = '-';
        if ($r->{status} == 201) {
            my $j = json_decode($r->{content});
            $id = $j && $j->{id} ? $j->{id} : 'missing';
        }
        printf {$out} "%.3f %d %s %s %s\n", time, $r->{status}, $user, $cid,
            $id;
        # a refused connection answers at once: do not spin
        sleep 0.02 if $r->{status} >= 500;
    }
    close $out;
    POSIX::_exit(0);
}

my $t0 = time;
my $until = $t0 + 16;
my @kids;
for my $n (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!";
    client($n, $until) if $pid == 0;
    push @kids, $pid;
}

sub at { my ($t) = @_; my $d = $t0 + $t - time; sleep $d if $d > 0 }

# 1. kill -9 the trading instance, start it again
at(3);
my @victims = $trd->pids;
kill 'KILL', @victims;
my $killed_at = time;
wait_until(sub { !grep { Kx::Test::_alive($_) } @victims }, timeout => 5);
$trd->stop;              # reaps the master; nothing left to stop
sleep 0.5;
$trd = start_trading();
my $back_at = time;
diag sprintf 'trading killed at +%.1f s, back at +%.1f s',
    $killed_at - $t0, $back_at - $t0;

# 2. PostgreSQL: immediate shutdown (no checkpoint), then start again
at(9);
my $pg_down_at = time;
$pg->down(immediate => 1);
sleep 1;
$pg->up;
my $pg_up_at = time;

waitpid $_, 0 for @kids;

# --- what the clients saw ----------------------------------------------------

my (@ok, %status);
for my $n (1 .. $CLIENTS) {
    open my $in, '<', "$dir/client-$n" or die;
    while (<$in>) {
        my ($t, $st, $user, $cid, $id) = split;
        $status{$st}++;
        push @ok, { t => $t, user => $user, cid => $cid, id => $id }
            if $st == 201;
    }
}

diag(join ', ', map { "$_: $status{$_}" } sort keys %status);

ok @ok > 100, scalar(@ok) . ' orders accepted (201) under load';
ok scalar(grep { $_->{t} < $killed_at } @ok), 'before the kill';
ok scalar(grep { $_->{t} > $back_at && $_->{t} < $pg_down_at } @ok),
    'between the trading restart and the PostgreSQL stop';
ok scalar(grep { $_->{t} > $pg_up_at } @ok), 'after PostgreSQL came back';
ok !grep({ $_->{id} eq 'missing' } @ok), 'every 201 carries the order id';
ok keys(%status) > 1, 'and the outages were seen (not every answer 201)';

# --- every 201 is in the database ------------------------------------------

my %stored = map { $_->[0] => $_->[1] } $pg->rows(
    'SELECT id, client_order_id FROM trading.orders');
my @lost = grep { !exists $stored{ $_->{id} } } @ok;
is scalar(@lost), 0, 'every order that got a 201 is in trading.orders'
    or diag explain [ @lost[0 .. ($#lost < 9 ? $#lost : 9)] ];
is scalar(grep { ($stored{ $_->{id} } // '') ne $_->{cid} } @ok), 0,
    '... with its client_order_id';

# --- every event reaches kx:events, once ------------------------------------
# The shipped relay deletes the rows it published (kx_outbox_keep off), so
# the stream is checked against the orders themselves: each was stored
# with its order.created, and each filled one with its order.filled, in
# the transaction that stored it.

ok wait_until(sub {
    $pg->value('SELECT count(*) FROM trading.outbox') == 0
}, timeout => 60), 'the relay caught up: the outbox is empty';

my (%in_stream, %events_of_order);
my $from = '-';
while (1) {
    my $page = $redis->command('XRANGE', 'kx:events', $from, '+',
                               'COUNT', 500);
    for my $e (@$page) {
        my %f = @{ $e->[1] };
        $in_stream{ $f{event_id} }++;
        next unless $f{type} =~ /^order\./;
        $events_of_order{ json_decode($f{payload})->{id} }{ $f{type} }++;
    }
    last if @$page < 500;
    $from = '(' . $page->[-1][0];
}

my @stored = $pg->rows('SELECT id, status FROM trading.orders');
my @filled = grep { $_->[1] eq 'filled' } @stored;
ok @filled > 100, scalar(@filled) . ' of ' . scalar(@stored)
    . ' stored orders filled';
is scalar(grep { !$events_of_order{ $_->{id} }{'order.created'} } @ok), 0,
    'every order that got a 201 has its order.created in kx:events';
is scalar(grep { !$events_of_order{ $_->[0] }{'order.created'} } @stored), 0,
    '... and so has every stored order';
is scalar(grep { !$events_of_order{ $_->[0] }{'order.filled'} } @filled), 0,
    '... and every filled one its order.filled';
is scalar(grep { $in_stream{$_} > 1 } keys %in_stream), 0,
    'each of the ' . scalar(keys %in_stream) . ' events once';

$gw->stop;
$trd->stop;
$mkt->stop;

done_testing;
