#!/usr/bin/perl

# The trading instance's account cache (kx_trading_account_cache, on in
# the shipped trading.conf): a user's next order goes straight to
# trading.order_apply() with the version the instance remembers, and
# whatever changed the account meanwhile -- an operator's SQL on cash or
# risk limits, another symbol, a resting order -- is seen all the same:
# a stale version fails the check and the order is decided again on a
# fresh read, and no refusal is given on the cache's word alone.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

my $mkt = start_instance('market', ports => $ports, pg => $pg,
                         redis => $redis);
my $trd = start_instance('trading', ports => $ports, pg => $pg,
                         redis => $redis, workers => 2);

like instance_conf('trading', ports => $ports),
    qr/^\s*kx_trading_account_cache\s+\S+;/m,
    'the shipped trading.conf keeps an account cache';

my $n_user = 0;
sub new_user {
    $n_user++;
    return sprintf '%08x-0000-4000-8000-%012x', $$, $n_user;
}

# straight to the trading instance: the gateway's order limit would get
# in the way of the later sections
sub order {
    my ($user, %body) = @_;
    return $trd->http(POST => '/v1/orders', json => \%body, headers => {
        Authorization => 'Bearer ' . stack_token($user) });
}

sub buy {
    my ($user, $sym, $qty) = @_;
    return order($user, symbol => $sym, side => 'buy', type => 'market',
                 quantity => "$qty");
}

sub cache_metric {
    my ($result) = @_;
    my $text = $trd->http(GET => '/metrics')->{body} // '';
    return $text =~ /^kx_trading_account_cache_total\{service="trading",result="$result"\} (\d+)$/m
        ? $1 : 0;
}

sub position {
    my ($user, $sym) = @_;
    return $pg->value("SELECT quantity FROM trading.positions "
                      . "WHERE user_id = '$user' AND symbol = '$sym'");
}

sub is_status {
    my ($r, $status, $code, $name) = @_;
    is $r->{status}, $status, "$name: $status"
        or diag explain $r->{json};
    is $r->{json}{error}{code}, $code, "$name: $code" if defined $code;
}

# --- hits, across symbols ----------------------------------------------------

my $u = new_user();
my ($h0, $m0) = (cache_metric('hit'), cache_metric('miss'));
is_status(buy($u, 'AAPL', 1), 201, undef, 'a first order');
is_status(buy($u, 'AAPL', 1), 201, undef, 'a second, in the same symbol');
is_status(buy($u, 'MSFT', 1), 201, undef, 'another symbol');
is_status(buy($u, 'MSFT', 1), 201, undef, '... again');
is_status(buy($u, 'AAPL', 1), 201, undef, 'back to the first');
is cache_metric('hit') - $h0, 3,
    'three orders went on the remembered account';
is cache_metric('miss') - $m0, 2,
    'two read it: the user\'s first, and the first in MSFT';
is position($u, 'AAPL'), '3.00000000', 'AAPL: 3 held';
is position($u, 'MSFT'), '2.00000000', 'MSFT: 2 held';
is $pg->value("SELECT count(*) FROM trading.orders WHERE user_id = '$u' "
              . "AND status = 'filled'"), 5, 'five filled orders';
is $pg->value("SELECT p.cash_balance + sum(s.quantity * s.avg_cost) "
              . "- p.realized_pl FROM trading.portfolios p "
              . "JOIN trading.positions s USING (user_id) "
              . "WHERE p.user_id = '$u' GROUP BY p.user_id, p.cash_balance, "
              . "p.realized_pl"),
    '100000.0000000000000000', 'cash + cost of positions - realized P&L '
    . 'is the starting cash';

# --- an operator's change of cash -------------------------------------------

$pg->psql("UPDATE trading.portfolios SET cash_balance = 500 "
          . "WHERE user_id = '$u'");
is_status(buy($u, 'AAPL', 10), 403, 'insufficient_buying_power',
          'cash taken away by SQL: the remembered cash does not count');
is_status(buy($u, 'AAPL', 0.01), 201, undef, 'a small order still goes');
$pg->psql("UPDATE trading.portfolios SET cash_balance = 100000 "
          . "WHERE user_id = '$u'");
my $h1 = cache_metric('hit');
is_status(buy($u, 'AAPL', 10), 201, undef,
          'cash given back by SQL: an order the remembered cash would '
          . 'refuse goes');
is cache_metric('hit') - $h1, 1, '... decided first on the cache, then '
    . 'again on a fresh read';

# --- an operator's change of risk limits (0019's trigger) --------------------

is_status(buy($u, 'AAPL', 1), 201, undef, 'remembered without limits');
$pg->psql("INSERT INTO trading.risk_limits (user_id, max_order_value) "
          . "VALUES ('$u', 100)");
is_status(buy($u, 'AAPL', 1), 403, 'order_value_exceeds_limit',
          'a limit inserted by SQL holds at once');
is_status(order($u, symbol => 'AAPL', side => 'buy', type => 'market',
                notional => '50'), 201, undef, 'an order under it goes');
$pg->psql("UPDATE trading.risk_limits SET max_order_value = 40 "
          . "WHERE user_id = '$u'");
is_status(order($u, symbol => 'AAPL', side => 'buy', type => 'market',
                notional => '50'), 403, 'order_value_exceeds_limit',
          'a limit lowered by SQL holds at once');
$pg->psql("DELETE FROM trading.risk_limits WHERE user_id = '$u'");
is_status(buy($u, 'AAPL', 1), 201, undef, 'a limit deleted: gone at once');

# --- resting sells and the quantity they hold --------------------------------

my $s = new_user();
is_status(buy($s, 'TSLA', 10), 201, undef, '10 TSLA bought');
my $ask = $mkt->http(GET => '/v1/quotes/TSLA', headers => {
    Authorization => 'Bearer ' . stack_token($s) })->{json}{ask};
my $r = order($s, symbol => 'TSLA', side => 'sell', type => 'limit',
              quantity => '8', limit_price => sprintf('%.2f', $ask * 1.08),
              time_in_force => 'gtc');
is_status($r, 201, undef, 'a limit sell of 8 rests');
is $r->{json}{status}, 'accepted', '... accepted, open';
is_status(order($s, symbol => 'TSLA', side => 'sell', type => 'market',
                quantity => '5'), 403, 'insufficient_position',
          '5 more to sell: only 2 are not in open sells');
is_status(order($s, symbol => 'TSLA', side => 'sell', type => 'market',
                quantity => '2'), 201, undef, '2 can go');
is $trd->http(DELETE => "/v1/orders/$r->{json}{id}", headers => {
    Authorization => 'Bearer ' . stack_token($s) })->{status}, 200,
    'the resting sell canceled';
is_status(order($s, symbol => 'TSLA', side => 'sell', type => 'market',
                quantity => '5'), 201, undef, 'now 5 can go');
is position($s, 'TSLA'), '3.00000000', '3 left';
is_status(order($s, symbol => 'TSLA', side => 'sell', type => 'market',
                quantity => '4'), 403, 'insufficient_position',
          'not 4');

# --- a repeated client_order_id on the cached path ---------------------------

my $c = new_user();
is_status(buy($c, 'AAPL', 1), 201, undef, 'remembered');
$r = order($c, symbol => 'AAPL', side => 'buy', type => 'market',
           quantity => '1', client_order_id => 'cache-1');
is_status($r, 201, undef, 'an order with a client_order_id');
my $again = order($c, symbol => 'AAPL', side => 'buy', type => 'market',
                  quantity => '1', client_order_id => 'cache-1');
is_status($again, 200, undef, 'the same client_order_id again');
is $again->{json}{id}, $r->{json}{id}, '... answers the original order';
is position($c, 'AAPL'), '2.00000000', '... and buys nothing more';

# --- many orders of few users at once, over both workers ---------------------
# Two clients per user race each other through both workers, so cached
# versions go stale under them all the time.  Afterwards each account must
# be exactly what its trades say: no wrong position, cash or reserve
# remembered by the cache can have slipped into the database.

{
    my @users = map { new_user() } 1 .. 3;
    my $dir = $trd->prefix;
    my $stale0 = cache_metric('stale');
    my @kids;
    for my $k (0 .. 5) {
        my $user = $users[$k % 3];
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            srand(1000 + $k);
            open my $log, '>', "$dir/race-$k.log" or exit 2;
            for (1 .. 50) {
                my $sym = (qw(AAPL MSFT TSLA))[int rand 3];
                my $side = rand() < 0.6 ? 'buy' : 'sell';
                my $r = order($user, symbol => $sym, side => $side,
                              type => 'market',
                              quantity => 1 + int rand 5);
                print $log "$r->{status} "
                    . ($r->{json}{error}{code} // '-') . "\n";
            }
            close $log;
            exit 0;
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;

    my %seen;
    for my $k (0 .. 5) {
        open my $log, '<', "$dir/race-$k.log" or die "race-$k.log: $!";
        $seen{ (split ' ', $_)[0] . ' ' . (split ' ', $_)[1] }++ for <$log>;
    }
    my $ok = $seen{'201 -'} // 0;
    my $short = $seen{'403 insufficient_position'} // 0;
    is $ok + $short, 300, "300 orders: $ok filled, $short sells refused "
        . 'for want of shares, nothing else'
        or diag explain \%seen;
    ok cache_metric('stale') > $stale0,
        'cached versions went stale under the race ('
        . (cache_metric('stale') - $stale0) . ' times) and were read again';

    my $in = join ',', map { "'$_'" } @users;
    is $pg->value("SELECT count(*) FROM trading.orders "
                  . "WHERE user_id IN ($in) AND status = 'filled'"), $ok,
        'every 201 is a filled order';
    is $pg->value(<<"SQL"), 0, 'each position is the sum of its trades';
SELECT count(*) FROM (
    SELECT t.user_id, t.symbol,
           sum(CASE t.side WHEN 'buy' THEN t.quantity ELSE -t.quantity END) AS q
      FROM trading.trades t WHERE t.user_id IN ($in)
     GROUP BY t.user_id, t.symbol) s
  LEFT JOIN trading.positions p USING (user_id, symbol)
 WHERE coalesce(p.quantity, 0) <> s.q
SQL
    is $pg->value("SELECT count(*) FROM trading.positions "
                  . "WHERE user_id IN ($in) AND quantity < 0"), 0,
        'no position went short';
    is $pg->value(<<"SQL"), 0, 'each cash balance is the start less the trades';
SELECT count(*) FROM trading.portfolios pf
 WHERE pf.user_id IN ($in)
   AND pf.cash_balance <> 100000 - coalesce((
       SELECT sum(CASE t.side WHEN 'buy' THEN t.quantity * t.price
                  ELSE -t.quantity * t.price END)
         FROM trading.trades t WHERE t.user_id = pf.user_id), 0)
SQL
    is $pg->value("SELECT count(*) FROM trading.portfolios "
                  . "WHERE user_id IN ($in) AND reserved_cash <> 0"), 0,
        'nothing left reserved';
    is $pg->value(<<"SQL"), 0, 'cash + cost of positions - realized P&L '
SELECT count(*) FROM trading.portfolios pf
 WHERE pf.user_id IN ($in)
   AND round(pf.cash_balance + coalesce((
       SELECT sum(p.quantity * p.avg_cost) FROM trading.positions p
        WHERE p.user_id = pf.user_id), 0) - pf.realized_pl, 2) <> 100000
SQL
        . 'is the starting cash, for each user';
}

$trd->stop;
$mkt->stop;

done_testing;
