#!/usr/bin/perl

# The shipped all-in-one.conf: every service in one instance (the seed's
# monolith phase), the same public paths as the gateway, no proxy hop.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();
my $ng = start_instance('all-in-one', ports => $ports, pg => $pg,
                        redis => $redis);

my $r = $ng->http(GET => '/health');
is $r->{status}, 200, '/health 200';
is $r->{json}{service}, 'all-in-one', 'one instance';

my %route = (
    '/v1/portfolio'          => 'trading',
    '/portfolio'             => 'trading',
    '/orders'                => 'trading',
    '/v1/agents'             => 'agent',
    '/agents'                => 'agent',
    '/v1/market/quotes/AAPL' => 'market',
    '/market/news/TSLA'      => 'market',
    '/v1/notifications'      => 'notify',
    '/preferences'           => 'notify',
    '/v1/triggers'           => 'scheduler',
    '/search'                => 'retrieval',
);

my $before = $ng->http(GET => '/metrics')->{body};
for my $path (sort keys %route) {
    $r = $ng->http(GET => $path, headers => { Authorization => 'Bearer ' . stack_token('0a1b2c3d-0000-4000-8000-00000000a10e') });
    my $want = $route{$path} =~ /^(?:market|notify|trading)$/ ? 200 : 501;
    is $r->{status}, $want, "$path: routed";
    ok $r->{json}, "$path: JSON";
    is $r->{headers}{'x-kx-service'}, 'all-in-one', "$path: same instance";
}
my $after = $ng->http(GET => '/metrics')->{body};

my %want;
$want{$_}++ for values %route;
for my $name (sort keys %want) {
    my $st = $name =~ /^(?:market|notify|trading)$/ ? 200 : 501;
    my $re = qr/^kx_http_requests_total\{service="all-in-one",route="\Q$name\E",status="$st"\} (\d+)$/m;
    my ($n0) = $before =~ $re;
    my ($n1) = $after =~ $re;
    is(($n1 // 0) - ($n0 // 0), $want{$name},
       "$name route counted $want{$name} time(s)");
}

$r = $ng->http(GET => '/v1/portfolio');
is $r->{status}, 401, 'a token is required';

$r = $ng->http(POST => '/auth/register', json => { email => 'aio@example.com', password => 'all in one 123' });
is $r->{status}, 201, 'accounts are served in the same instance';
$r = $ng->http(GET => '/v1/users/me', headers => { Authorization => "Bearer $r->{json}{token}" });
is $r->{json}{user}{email}, 'aio@example.com', 'and its token works';

# trading asks the market service of this same instance for its quote
$r = $ng->http(POST => '/orders', headers => { Authorization => 'Bearer ' . stack_token('0a1b2c3d-0000-4000-8000-00000000a10f') },
               json => { symbol => 'AAPL', side => 'buy', type => 'market', quantity => 1 });
is $r->{status}, 201, 'an order in the all-in-one instance';
is $r->{json}{status}, 'filled', 'filled at the quote of the same instance';

$r = $ng->http(GET => '/v1/nothing/here');
is $r->{status}, 404, 'unknown route 404';
is $r->{json}{error}{code}, 'not_found', 'JSON 404';

done_testing;
