#!/usr/bin/perl

# The paper broker with liquidity=quote (kx_trading_broker paper
# liquidity=quote): fills are cut to the quote's size, so ioc fills part
# and cancels the rest, fok fills all or nothing, a day market order rests
# partially filled and the matcher fills the rest on the next quote.  The
# quotes are crafted and published on kx:quote:<SYM> (contract C1); no
# market service runs, so a symbol without a fresh published quote cannot
# be priced (503).

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

my $conf = instance_conf('trading', ports => $ports, pg => $pg,
                         redis => $redis, workers => 1);
$conf =~ s/kx_trading_broker\s+paper;/kx_trading_broker paper liquidity=quote;/
    or die 'no kx_trading_broker in trading.conf';
my $trd = start_nginx($conf, vars => { PORT => $ports->{trading} },
                      env => { KX_JWT_SECRET => $STACK_SECRET });

my $user = '5eed0000-0000-4000-8000-000000000001';
my %auth = (Authorization => 'Bearer ' . stack_token($user));

sub post { $trd->http(POST => '/v1/orders', headers => \%auth, json => $_[0]) }
sub get { $trd->http(GET => $_[0], headers => \%auth) }

sub publish {
    my (%q) = @_;
    $redis->cli('PUBLISH', "kx:quote:$q{symbol}",
                json_encode({ type => 'quote', %q }));
}

my %g5 = (symbol => 'GOOGL', price => '100.00', bid => '99.90',
          ask => '100.00', bid_size => 5, ask_size => 5);

# the subscription is made when the worker starts: wait for a quote to land
ok wait_until(sub {
    publish(%g5);
    my $r = post({ symbol => 'GOOGL', side => 'buy', type => 'market',
                   quantity => 1, time_in_force => 'fok',
                   client_order_id => 'warm-up' });
    return $r->{status} == 201;
}, timeout => 10, interval => 0.2), 'a published quote prices an order';

publish(%g5);
my $r = post({ symbol => 'GOOGL', side => 'buy', type => 'market',
               quantity => 10, time_in_force => 'fok' });
is $r->{status}, 201, 'fok 201';
is $r->{json}{status}, 'canceled', 'fok larger than the ask size: canceled';
is $r->{json}{filled_qty}, '0', 'nothing filled';

publish(%g5);
$r = post({ symbol => 'GOOGL', side => 'buy', type => 'market',
            quantity => 10, time_in_force => 'ioc' });
is $r->{json}{status}, 'canceled', 'ioc: the rest canceled';
is $r->{json}{filled_qty}, '5', 'ioc filled the ask size';
is $r->{json}{filled_avg_price}, '100.00', 'at the ask';

publish(%g5);
$r = post({ symbol => 'GOOGL', side => 'buy', type => 'market',
            quantity => 8, time_in_force => 'day' });
my $o = $r->{json};
is $o->{status}, 'partially_filled', 'a day market order fills what it can';
is $o->{filled_qty}, '5', 'the ask size';

my $got = wait_until(sub {
    publish(%g5, ask => '101.00', price => '101.00');
    my $x = get("/v1/orders/$o->{id}");
    return $x->{json}{status} eq 'filled' ? $x->{json} : undef;
}, timeout => 10, interval => 0.3);
ok $got, 'the next quote fills the rest';
is $got->{filled_avg_price}, '100.375', 'average of 5 at 100 and 3 at 101'
    if $got;

$r = post({ symbol => 'GOOGL', side => 'sell', type => 'limit',
            quantity => 8, limit_price => '105.00', time_in_force => 'gtc' });
my $s = $r->{json};
is $s->{status}, 'accepted', 'a limit sell rests';

# one quote only: each quote through the limit fills the bid size again
publish(symbol => 'GOOGL', price => '106.00', bid => '106.00',
        ask => '106.10', bid_size => 3, ask_size => 3);
$got = wait_until(sub {
    my $x = get("/v1/orders/$s->{id}");
    return $x->{json}{status} eq 'partially_filled' ? $x->{json} : undef;
}, timeout => 10, interval => 0.3);
ok $got, 'a bid through the limit fills the bid size';
is $got->{filled_qty}, '3', '3 of 8' if $got;

$r = $trd->http(DELETE => "/v1/orders/$s->{id}", headers => \%auth);
is $r->{json}{status}, 'canceled', 'the rest is canceled';
is $r->{json}{filled_qty}, '3', 'the fill stays';

# a reload: the new worker 0 takes over the resting orders
publish(%g5);
$r = post({ symbol => 'GOOGL', side => 'buy', type => 'limit', quantity => 1,
            limit_price => '95.00', time_in_force => 'gtc' });
my $rl = $r->{json};
is $rl->{status}, 'accepted', 'a limit buy rests before a reload';
my %old = map { $_ => 1 } $trd->worker_pids;
ok $trd->reload, 'reloaded';
ok wait_until(sub { !grep { $old{$_} } $trd->worker_pids }, timeout => 10),
   'the old worker left (nothing of the matcher holds it)';
$got = wait_until(sub {
    publish(symbol => 'GOOGL', price => '94.50', bid => '94.40',
            ask => '94.50', bid_size => 5, ask_size => 5);
    my $x = get("/v1/orders/$rl->{id}");
    return $x->{json}{status} eq 'filled' ? $x->{json} : undef;
}, timeout => 15, interval => 0.3);
ok $got, 'after the reload a crossing quote fills it';
is $got->{filled_avg_price}, '94.50', 'at the ask' if $got;

# 5 + 5 + 3 bought at 100, 100, 101 = 1303 plus the warm-up share;
# 3 sold at 106 against an average of 100.375 + ...: check the invariant
is $pg->value("SELECT round(p.cash_balance + coalesce((SELECT"
              . " sum(quantity * avg_cost) FROM trading.positions"
              . " WHERE user_id = p.user_id), 0) - p.realized_pl, 2)"
              . " FROM trading.portfolios p WHERE user_id = '$user'"),
    '100000.00', 'cash + sum(quantity x avg_cost) - realized_pl == start';
is $pg->value("SELECT realized_pl > 0 FROM trading.portfolios"
              . " WHERE user_id = '$user'"), 't', 'the sale realized a gain';
is $pg->value("SELECT quantity FROM trading.positions"
              . " WHERE user_id = '$user' AND symbol = 'GOOGL'"),
    '12.00000000', 'position: 1 + 5 + 8 - 3 + 1';

$r = post({ symbol => 'AAPL', side => 'buy', type => 'market',
            quantity => 1 });
is $r->{status}, 503, 'no published quote and no market service: 503';
is $r->{json}{error}{code}, 'quote_unavailable', 'quote_unavailable';

done_testing;
