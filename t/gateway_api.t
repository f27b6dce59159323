#!/usr/bin/perl

# The gateway's API surface: GET /v1/openapi.json is a valid OpenAPI 3
# document and every path it documents is routed (none falls through to
# the unknown-route 404), and CORS (preflight answered before auth,
# headers on every response for allowed origins only).

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

for my $name (qw(trading agent market notify scheduler retrieval)) {
    start_instance($name, ports => $ports, pg => $pg, redis => $redis);
}
my $gw = start_instance('gateway', ports => $ports, pg => $pg, redis => $redis);
my $reg = $gw->http(POST => '/v1/auth/register',
                    json => { email => 'api@example.com', password => 'api-user-password' });
is $reg->{status}, 201, 'registered through the gateway';
my %auth = (Authorization => "Bearer $reg->{json}{token}");

# --- OpenAPI --------------------------------------------------------------

my $r = $gw->http(GET => '/v1/openapi.json');
is $r->{status}, 200, 'openapi.json without a token';
my $doc = $r->{json};
ok $doc, 'valid JSON';
like $doc->{openapi} // '', qr/^3\.\d+\.\d+$/, 'OpenAPI 3';
ok $doc->{info}{title} && $doc->{info}{version}, 'info';
is_deeply $gw->http(GET => '/openapi.json')->{json}, $doc, 'unversioned too';

my %ops;
my $bad_refs = 0;
for my $path (sort keys %{ $doc->{paths} }) {
    for my $m (sort keys %{ $doc->{paths}{$path} }) {
        my $op = $doc->{paths}{$path}{$m};
        $ops{"$m $path"} = $op;
        ok exists $op->{responses}{default} || grep({ /^[45]/ } keys %{ $op->{responses} }),
            "$m $path documents its errors";
    }
}
cmp_ok scalar(keys %ops), '>=', 30, 'every public endpoint is documented (' . scalar(keys %ops) . ')';

# every $ref resolves
my $json = json_encode($doc);
for my $ref ($json =~ /"\$ref":"#\/components\/(\w+\/\w+)"/g) {
    my ($kind, $name) = split m{/}, $ref;
    $bad_refs++ unless $doc->{components}{$kind}{$name};
}
is $bad_refs, 0, 'every $ref resolves';

# the seed's endpoints are all there
for my $e ('post /v1/auth/register', 'post /v1/auth/login', 'get /v1/users/me',
           'get /v1/portfolio', 'get /v1/positions', 'post /v1/orders',
           'get /v1/orders', 'get /v1/orders/{id}', 'delete /v1/orders/{id}',
           'get /v1/trades', 'get /v1/agents', 'post /v1/agents',
           'post /v1/agents/{id}/execute', 'get /v1/market/quotes/{symbol}',
           'get /v1/market/history/{symbol}', 'get /v1/market/news/{symbol}',
           'get /ws', 'get /v1/notifications', 'put /v1/preferences',
           'post /v1/search', 'post /v1/rag', 'post /v1/embeddings',
           'post /v1/summarize')
{
    ok $ops{$e}, "documented: $e";
}

my $unknown_re = qr/^kx_http_requests_total\{service="gateway",route="unknown",status="404"\} (\d+)$/m;
my ($before) = $gw->http(GET => '/metrics')->{body} =~ $unknown_re;

for my $e (sort keys %ops) {
    my ($m, $path) = split / /, $e, 2;
    (my $p = $path) =~ s/\{symbol\}/AAPL/g;
    $p =~ s/\{indicator\}/sma/g;
    $p =~ s/\{\w+\}/00000000-0000-0000-0000-000000000001/g;
    $r = $gw->http(uc $m => $p, headers => { %auth, 'Content-Type' => 'application/json' },
                   ($m =~ /^(post|put)$/ ? (body => '{}') : ()));
    my $fell = $r->{status} == 404 && ($r->{headers}{'x-kx-service'} // '') eq 'gateway'
               && ($r->{json}{error}{code} // '') eq 'not_found';
    ok !$fell, "$e is routed ($r->{status} from " . ($r->{headers}{'x-kx-service'} // '?') . ')';
}

my ($after) = $gw->http(GET => '/metrics')->{body} =~ $unknown_re;
is $after // 0, $before // 0, 'no documented path hit the unknown route';

# --- CORS -----------------------------------------------------------------

my %pre = (Origin => 'http://localhost:3000',
           'Access-Control-Request-Method' => 'POST',
           'Access-Control-Request-Headers' => 'authorization, content-type');

$r = $gw->http(OPTIONS => '/v1/orders', headers => \%pre);
is $r->{status}, 204, 'preflight answered without a token';
is $r->{headers}{'access-control-allow-origin'}, 'http://localhost:3000', 'allowed origin echoed';
like $r->{headers}{'access-control-allow-methods'}, qr/\bPOST\b/, 'methods';
like $r->{headers}{'access-control-allow-headers'}, qr/\bAuthorization\b/i, 'headers';
is $r->{headers}{'access-control-max-age'}, 600, 'max age';
is $r->{headers}{'x-kx-service'}, 'gateway', 'no service was bothered';

$r = $gw->http(OPTIONS => '/v1/orders', headers => { %pre, Origin => 'http://evil.example' });
is $r->{status}, 403, 'preflight from another origin: 403';
ok !exists $r->{headers}{'access-control-allow-origin'}, 'and no CORS headers';

$r = $gw->http(GET => '/v1/portfolio', headers => { Origin => 'http://localhost:3000' });
is $r->{status}, 401, 'a real request still needs its token';
is $r->{headers}{'access-control-allow-origin'}, 'http://localhost:3000',
    'CORS headers on the 401, so the browser can read it';
like $r->{headers}{'access-control-expose-headers'}, qr/X-Request-ID/, 'exposed headers';

$r = $gw->http(GET => '/v1/portfolio', headers => { Origin => 'http://localhost:3000', %auth });
is $r->{headers}{'access-control-allow-origin'}, 'http://localhost:3000', 'and on proxied answers';

$r = $gw->http(GET => '/v1/portfolio', headers => { Origin => 'http://evil.example', %auth });
ok !exists $r->{headers}{'access-control-allow-origin'}, 'none for other origins';

done_testing;
