#!/usr/bin/perl

# GET /v1/portfolio/enriched at the shipped gateway (ngx_http_kx_aggregate_
# module): the trading service's portfolio, each position revalued at the
# real market service's live quote.  The trading side is a stand-in nginx
# on the trading port that answers per X-User-ID, so the test controls the
# positions exactly; t/trading*.t cover the real one.

use strict;
use warnings;

use Test::More;
use Math::BigInt;

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

my %portfolio = (
    'u-rich' => '{"cash_balance":"1000.00","reserved_cash":"0.00",'
        . '"realized_pl":"12.34","positions_value":"0.00",'
        . '"total_value":"1000.00","unrealized_pl":"0.00",'
        . '"seen_user":"$http_x_user_id","positions":['
        . '{"symbol":"AAPL","quantity":"1.5","avg_cost":"100.00",'
        . '"current_price":"101.00"},'
        . '{"symbol":"TSLA","quantity":"0.000002","avg_cost":"200.00",'
        . '"current_price":"201.00"},'
        . '{"symbol":"NOPE","quantity":"3","avg_cost":"10.00",'
        . '"current_price":"11.25"}]}',
    'u-empty' => '{"cash_balance":"100000.00","positions":[]}',
    'u-junk'  => '{"cash_balance":"1.00"}',
);

my $maps = join "\n", map {
    (my $body = $portfolio{$_}) =~ s/'/\\'/g;
    "        $_ '$body';"
} sort keys %portfolio;

my $trading = start_nginx(<<"CONF", vars => { PORT => $ports->{trading} });
events {}
http {
    map \$http_x_user_id \$fake_portfolio {
        default '';
$maps
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        default_type application/json;
        location = /v1/portfolio {
            if (\$http_x_user_id = 'u-gone') {
                return 404 '{"error":{"code":"not_found","message":"no such portfolio"}}';
            }
            if (\$fake_portfolio = '') {
                return 500;
            }
            return 200 \$fake_portfolio;
        }
    }
}
CONF

my $mkt = start_instance('market', ports => $ports, pg => $pg,
                         redis => $redis);
my $gw = start_instance('gateway', ports => $ports, pg => $pg,
                        redis => $redis);

sub enriched {
    my ($user, $path) = @_;
    return $gw->http(GET => $path // '/v1/portfolio/enriched',
        headers => { Authorization => 'Bearer ' . stack_token($user) });
}

# exact decimal strings as integers of 10^-8
sub e8 {
    my ($s) = @_;
    my ($sign, $int, $frac) = $s =~ /^(-?)(\d+)(?:\.(\d{1,8}))?$/
        or return undef;
    $frac = substr(($frac // '') . '0' x 8, 0, 8);
    my $v = Math::BigInt->new("$int$frac");
    return $sign ? -$v : $v;
}

# --- the happy path -------------------------------------------------------

my $r = enriched('u-rich');
is $r->{status}, 200, 'GET /v1/portfolio/enriched 200';
my $p = $r->{json} // {};
is $p->{seen_user}, 'u-rich',
    'the trading service got the verified user as X-User-ID';
is $p->{realized_pl}, '12.34', 'fields of the portfolio pass through';
is scalar @{ $p->{positions} // [] }, 3, 'three positions';

my %pos = map { $_->{symbol} => $_ } @{ $p->{positions} // [] };

for my $s (qw(AAPL TSLA)) {
    my $x = $pos{$s} // {};
    is $x->{quote_status}, 'live', "$s valued at a live quote";
    like $x->{current_price} // '', qr/^\d+\.\d\d$/, "$s current price";
    like $x->{change_percent} // '', qr/^-?\d+\.\d+$/, "$s change_percent";
    like $x->{quote_timestamp} // '', qr/^\d{4}-\d\d-\d\dT/, "$s quote time";
    ok defined $x->{bid} && defined $x->{ask}, "$s bid and ask";
    my $mv = e8($x->{quantity}) * e8($x->{current_price}) / 10**8;
    is e8($x->{market_value}), $mv, "$s market value = qty x price, exact";
    my $upl = $mv - e8($x->{quantity}) * e8($x->{avg_cost}) / 10**8;
    is e8($x->{unrealized_pl}), $upl, "$s unrealized P&L exact";
}
isnt $pos{AAPL}{current_price}, '101.00',
    "AAPL is not at the trading service's stale price";
is $pos{TSLA}{market_value} =~ /^0\.000\d+$/ ? 1 : 0, 1,
    'a tiny fractional position keeps its sub-cent value';

my $x = $pos{NOPE} // {};
is $x->{quote_status}, 'unavailable', 'unknown symbol: no live quote';
is $x->{current_price}, '11.25', "... keeps the trading service's price";
is $x->{market_value}, '33.75', '... and is valued at it';
ok !exists $x->{bid}, '... with no invented quote fields';

my $sum = Math::BigInt->new(0);
$sum += e8($_->{market_value}) for values %pos;
is e8($p->{positions_value}), $sum, 'positions_value is the exact sum';
is e8($p->{total_value}), $sum + e8('1000.00'),
    'total_value = cash + positions_value';

# --- versioning, identity, errors ----------------------------------------

$r = enriched('u-rich', '/portfolio/enriched');
is $r->{status}, 200, 'the unversioned path is the same route';

$r = $gw->http(GET => '/v1/portfolio/enriched');
is $r->{status}, 401, 'no token: 401';
is $r->{json}{error}{code}, 'unauthorized', '... JSON error';

$r = $gw->http(POST => '/v1/portfolio/enriched', body => '{}',
    headers => { Authorization => 'Bearer ' . stack_token('u-rich'),
                 'Content-Type' => 'application/json' });
is $r->{status}, 405, 'POST: 405';

$r = enriched('u-empty');
is $r->{status}, 200, 'empty portfolio 200';
is $r->{json}{total_value}, '100000.00', '... total is the cash';
is_deeply $r->{json}{positions}, [], '... no positions';

$r = enriched('u-gone');
is $r->{status}, 404, "the trading service's 4xx passes through";
is $r->{json}{error}{code}, 'not_found', '... with its JSON error';

$r = enriched('u-junk');
is $r->{status}, 502, 'a portfolio of an unknown shape: 502';
is $r->{json}{error}{code}, 'bad_gateway', '... JSON error';

$r = enriched('u-nobody');
is $r->{status}, 502, 'trading answers 500: 502';
is $r->{json}{error}{code}, 'bad_gateway', '... JSON error';

# the market service down: positions keep trading's valuation
$mkt->stop;
$r = enriched('u-rich');
is $r->{status}, 200, 'market down: still 200';
is_deeply [ map { $_->{quote_status} } @{ $r->{json}{positions} // [] } ],
    [qw(unavailable unavailable unavailable)],
    '... every position marked unavailable';
is $r->{json}{positions}[0]{current_price}, '101.00',
    "... at the trading service's prices";

# the trading service down
$trading->stop;
$r = enriched('u-rich');
is $r->{status}, 502, 'trading down: 502';
is $r->{json}{error}{code}, 'bad_gateway', '... JSON error';

$r = $gw->http(GET => '/health');
is $r->{status}, 200, 'the gateway itself is fine';

# --- the monolith, with the real trading service ---------------------------

my $aio = start_instance('all-in-one', ports => stack_ports(), pg => $pg,
                         redis => $redis);
my %me = (Authorization => 'Bearer '
          . stack_token('0a1b2c3d-0000-4000-8000-0000000e0001'));

$r = $aio->http(POST => '/v1/orders', headers => \%me,
                json => { symbol => 'MSFT', side => 'buy', quantity => '2',
                          type => 'market', time_in_force => 'day' });
is $r->{status}, 201, 'all-in-one: a market order' or diag $r->{body};

$r = $aio->http(GET => '/portfolio/enriched', headers => \%me);
is $r->{status}, 200, 'all-in-one: enriched 200';
$p = $r->{json} // {};
is scalar @{ $p->{positions} // [] }, 1, '... one position';
$x = $p->{positions}[0] // {};
is $x->{symbol}, 'MSFT', '... MSFT';
is e8($x->{quantity}), e8('2'), '... of 2 shares';
is $x->{quote_status}, 'live', '... valued at a live quote';
is e8($x->{market_value}), e8($x->{quantity}) * e8($x->{current_price}) / 10**8,
    '... market value = qty x price';
is e8($p->{total_value}), e8($p->{cash_balance}) + e8($x->{market_value}),
    '... total = cash + positions';

$r = $aio->http(GET => '/v1/portfolio/enriched');
is $r->{status}, 401, 'all-in-one: no token 401';

done_testing;
