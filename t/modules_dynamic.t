#!/usr/bin/perl

# `make modules` builds the Kianax modules as .so files against Debian's
# nginx-dev; Debian's own /usr/sbin/nginx loads them and serves /health,
# /metrics and JSON errors exactly as the custom binary does.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use Kx::Test;

my $nginx = '/usr/sbin/nginx';
my $dir = $ENV{KX_MODULES_DIR} // project_root() . '/build/dyn';
my $so = "$dir/ngx_http_kx_core_module.so";

plan skip_all => "$nginx not installed" unless -x $nginx;
plan skip_all => "$so not built (make modules)" unless -f $so;

my $pg = start_pg();
my %env = (KX_TEST_SECRET => 'dynamic-module-secret-0123456789');
my $ng = start_nginx(<<"EOF", nginx => $nginx, pg => $pg, env => \%env);
load_module $so;
master_process on;
worker_processes 1;
events { worker_connections 256; }
http {
    kx_service dyn-test;
    kx_pg_conninfo "%%PG_CONNINFO%%";
    kx_jwt_key - HS256 env:KX_TEST_SECRET;
    add_header X-Request-ID \$kx_request_id always;
    error_page 401 404 405 /.kx/error;
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /.kx/error { internal; kx_error; }
        location = /health { kx_health; }
        location = /metrics { kx_metrics; }
        location /private { kx_jwt on; kx_error 418; }
        location / { kx_route everything; return 404; }
    }
}
EOF

my $r = http(GET => $ng->url('/health'));
is $r->{status}, 200, 'Debian nginx with our .so: /health 200';
is $r->{json}{service}, 'dyn-test', 'kx_service from the loaded module';
ok $r->{json}{checks}{postgres}{ok}, 'the PostgreSQL pool works in the .so';

$r = http(GET => $ng->url('/private'));
is $r->{status}, 401, 'kx_jwt from the .so refuses a missing token';
like $r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, '$kx_request_id';

$r = http(GET => $ng->url('/missing'));
is $r->{status}, 404, 'unknown path: 404';
is $r->{json}{error}{code}, 'not_found', 'JSON error through error_page';

$r = http(GET => $ng->url('/metrics'));
like $r->{body}, qr/^kx_http_requests_total\{service="dyn-test",route="everything",status="404"\} 1$/m,
    'metrics count the request under its route';

my ($ver) = `$nginx -v 2>&1` =~ m{nginx/(\S+)};
is $ver, '1.22.1', 'the distribution binary is the version we build against';

done_testing;
