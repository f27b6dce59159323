#!/usr/bin/perl

# ngx_http_kx_auth_module: register, login and me, their error paths, the
# argon2id hash in the database, and hashing off the event loop.

use strict;
use warnings;
use utf8;

use Test::More;
use Time::HiRes qw(time);
use POSIX ();

use lib 't/lib';
use Kx::Test;

my $pg = start_pg();
my $ng = start_nginx(<<'EOF', pg => $pg, env => { KX_TEST_SECRET => 'auth-test-secret-0123456789abcdef' });
master_process on;
worker_processes 1;
thread_pool default threads=4;
events { worker_connections 1024; }
http {
    kx_pg_conninfo "%%PG_CONNINFO%%";
    kx_jwt_key - HS256 env:KX_TEST_SECRET;
    kx_auth_token_ttl 900s;
    # costly on purpose: a hash on the event loop would show
    kx_auth_argon2 3 65536 1;
    client_max_body_size 1m;

    error_page 400 401 403 404 405 413 415 500 502 503 504 /.kx/error;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /.kx/error { internal; kx_error; }
        location = /v1/auth/register { kx_auth_register; }
        location = /v1/auth/login { kx_auth_login; }
        location = /v1/users/me { kx_jwt on; kx_auth_me; }
        location = /ping { kx_health; }
    }
}
EOF

sub post {
    my ($path, $json, %o) = @_;
    return http(POST => $ng->url($path), json => $json, %o);
}

# --- register -------------------------------------------------------------

my $pw = 'correct horse battery';
my $r = post('/v1/auth/register', { email => 'Alice@Example.com', password => $pw });
is $r->{status}, 201, 'register 201';
my $u = $r->{json}{user};
like $u->{id}, qr/^[0-9a-f-]{36}$/, 'user id is a uuid';
is $u->{email}, 'alice@example.com', 'e-mail normalised';
like $u->{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'created_at ISO 8601';
ok length $r->{json}{token} > 20, 'a token';
is $r->{json}{expires_in}, 900, 'expires_in from kx_auth_token_ttl';
my $token = $r->{json}{token};

my $hash = $pg->value("SELECT password_hash FROM auth.users WHERE email = 'alice\@example.com'");
like $hash, qr/^\$argon2id\$v=19\$m=65536,t=3,p=1\$/, 'argon2id hash stored';
unlike $hash, qr/\Q$pw\E/, 'not the password';

$r = post('/v1/auth/register', { email => 'ALICE@example.com', password => 'another password' });
is $r->{status}, 409, 'same address, other case: 409';
is $r->{json}{error}{code}, 'email_taken', 'email_taken';

for my $case (
    [ { email => 'not-an-address', password => $pw }, 'bad e-mail' ],
    [ { email => 'bob@example.com', password => 'short' }, 'password under 8 characters' ],
    [ { email => 'bob@example.com', password => 'ééééééé' }, '7 characters in 14 bytes' ],
    [ { email => 'bob@example.com' }, 'no password' ],
    [ { password => $pw }, 'no e-mail' ],
    [ { email => 42, password => $pw }, 'e-mail not a string' ],
) {
    $r = post('/v1/auth/register', $case->[0]);
    is $r->{status}, 422, "$case->[1]: 422";
    is $r->{json}{error}{code}, 'validation_failed', "$case->[1]: validation_failed";
}

$r = http(POST => $ng->url('/v1/auth/register'), body => '{"email":',
          headers => { 'Content-Type' => 'application/json' });
is $r->{status}, 400, 'malformed JSON: 400';
is $r->{json}{error}{code}, 'malformed_json', 'malformed_json';

$r = http(POST => $ng->url('/v1/auth/register'), body => 'email=a',
          headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is $r->{status}, 415, 'not JSON: 415';

$r = http(POST => $ng->url('/v1/auth/register'),
          body => '{"email":"a@b.co","password":"' . ('x' x 20000) . '"}',
          headers => { 'Content-Type' => 'application/json' });
is $r->{status}, 413, 'oversized body: 413';

$r = http(GET => $ng->url('/v1/auth/register'));
is $r->{status}, 405, 'GET register: 405';

is $pg->value("SELECT count(*) FROM auth.users"), 1, 'no partial writes: one account';

# --- login ----------------------------------------------------------------

$r = post('/v1/auth/login', { email => 'alice@EXAMPLE.com', password => $pw });
is $r->{status}, 200, 'login 200';
is $r->{json}{user}{id}, $u->{id}, 'the same user';
ok $r->{json}{token}, 'a fresh token';

$r = post('/v1/auth/login', { email => 'alice@example.com', password => 'wrong password!' });
is $r->{status}, 401, 'wrong password: 401';
is $r->{json}{error}{code}, 'invalid_credentials', 'invalid_credentials';
my $wrong = $r->{body};

$r = post('/v1/auth/login', { email => 'nobody@example.com', password => 'wrong password!' });
is $r->{status}, 401, 'unknown e-mail: 401';
is $r->{body}, $wrong, 'unknown e-mail answers exactly like a wrong password';

$r = post('/v1/auth/login', { email => 'alice@example.com' });
is $r->{status}, 422, 'login without a password: 422';

# --- me -------------------------------------------------------------------

$r = http(GET => $ng->url('/v1/users/me'), headers => { Authorization => "Bearer $token" });
is $r->{status}, 200, 'me 200';
is_deeply $r->{json}{user}, $u, 'me is the registered user';
ok !exists $r->{json}{token}, 'me issues no token';

$r = http(GET => $ng->url('/v1/users/me'));
is $r->{status}, 401, 'me without a token: 401';

$r = http(GET => $ng->url('/v1/users/me'),
          headers => { Authorization => "Bearer $token", 'X-User-ID' => 'someone-else' });
is $r->{json}{user}{id}, $u->{id}, 'X-User-ID is ignored: identity comes from the token';

# --- hashing runs off the event loop --------------------------------------

my @pids;
for (1 .. 6) {
    my $pid = fork // die;
    if (!$pid) {
        post('/v1/auth/login', { email => 'alice@example.com', password => $pw });
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
Time::HiRes::sleep(0.05);
my $worst = 0;
for (1 .. 10) {
    my $t0 = time;
    my $p = http(GET => $ng->url('/ping'));
    my $dt = time - $t0;
    $worst = $dt if $dt > $worst;
    is $p->{status}, 200, 'ping answered during logins' if $_ == 1;
}
waitpid $_, 0 for @pids;
cmp_ok $worst, '<', 0.15, sprintf('pings not held up by hashing (worst %.0f ms)', $worst * 1000);

unlike $ng->error_log, qr/\Q$pw\E/, 'the password is never logged';

done_testing;
