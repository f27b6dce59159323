#!/usr/bin/perl

# ngx_http_kx_jwt_module: which tokens get through, which get a 401 with
# a JSON error and WWW-Authenticate, key selection by kid, JWKS files,
# tokens from a cookie or a query argument, and key rotation by reload.

use strict;
use warnings;

use Test::More;
use Digest::SHA qw(hmac_sha256 hmac_sha512);
use MIME::Base64 qw(encode_base64url);
use File::Temp qw(tempdir);

use lib 't/lib';
use Kx::Test;

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $secret = 'test-secret-0123456789abcdef0123';
my $secret2 = 'jwks-secret-abcdefabcdefabcdef99';

system("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
       . "-out $dir/rsa.key 2>/dev/null") == 0 or die 'openssl genpkey';
system("openssl pkey -in $dir/rsa.key -pubout -out $dir/rsa.pub 2>/dev/null") == 0
    or die 'openssl pkey';
spew("$dir/hs.key", "$secret\n");
mkdir "$dir/www";
spew("$dir/www/ok", "ok\n");
chmod 0755, "$dir/www";
spew("$dir/jwks.json", json_encode({ keys => [
    { kty => 'oct', kid => 'j1', alg => 'HS512',
      k => encode_base64url($secret2) },
]}));
chmod 0644, grep { -f } glob "$dir/*";

my $ng = start_nginx(<<"EOF", env => { KX_TEST_JWT_SECRET => 'from-the-environment-0123456789' });
master_process on;
worker_processes 1;
events { worker_connections 256; }
http {
    kx_jwt_key - HS256 $dir/hs.key;
    kx_jwt_key rsa1 RS256 $dir/rsa.pub;
    kx_jwt_key envkey HS256 env:KX_TEST_JWT_SECRET;
    kx_jwt_jwks $dir/jwks.json;
    kx_jwt_leeway 30s;
    kx_jwt_max_size 4k;

    server {
        listen 127.0.0.1:%%PORT%%;
        kx_jwt on;
        kx_jwt_cookie kx_token;
        kx_jwt_arg token;

        # "return" would answer before the access phase: serve a file
        root $dir/www;
        default_type text/plain;
        add_header X-Sub "sub=\$kx_jwt_sub role=\$kx_jwt_claim_role n=\$kx_jwt_claim_n";

        location / {
            try_files /ok =404;
        }

        location /open {
            kx_jwt optional;
            try_files /ok =404;
        }

        location /public {
            kx_jwt off;
            try_files /ok =404;
        }

        location /strict {
            kx_jwt_issuer kianax;
            kx_jwt_audience api;
            try_files /ok =404;
        }
    }
}
EOF

my $now = time;

sub b64j { encode_base64url(json_encode($_[0])) }

sub hs256 {
    my ($claims, %o) = @_;
    my $h = b64j({ alg => 'HS256', typ => 'JWT', ($o{kid} ? (kid => $o{kid}) : ()) });
    my $p = b64j($claims);
    my $sig = encode_base64url(hmac_sha256("$h.$p", $o{key} // $secret));
    return "$h.$p.$sig";
}

sub hs512 {
    my ($claims, %o) = @_;
    my $h = b64j({ alg => 'HS512', typ => 'JWT', kid => $o{kid} });
    my $p = b64j($claims);
    return "$h.$p." . encode_base64url(hmac_sha512("$h.$p", $o{key}));
}

sub rs256 {
    my ($claims, %o) = @_;
    my $h = b64j({ alg => 'RS256', typ => 'JWT', kid => $o{kid} // 'rsa1' });
    my $p = b64j($claims);
    spew("$dir/in", "$h.$p");
    my $sig = `openssl dgst -sha256 -sign $dir/rsa.key $dir/in`;
    return "$h.$p." . encode_base64url($sig);
}

sub get {
    my ($path, $token, %h) = @_;
    $h{Authorization} = "Bearer $token" if defined $token;
    return http(GET => $ng->url($path), headers => \%h);
}

sub refused {
    my ($r, $name, $code) = @_;
    is $r->{status}, 401, "$name: 401";
    is $r->{json}{error}{code}, $code // 'invalid_token', "$name: JSON error";
    like $r->{headers}{'www-authenticate'} // '', qr/^Bearer\b/,
        "$name: WWW-Authenticate";
}

my $claims = { sub => 'user-1', exp => $now + 600, role => 'trader', n => 42 };

# --- accepted -------------------------------------------------------------

my $r = get('/', hs256($claims));
is $r->{status}, 200, 'valid HS256 token';
is $r->{headers}{'x-sub'}, "sub=user-1 role=trader n=42", '$kx_jwt_sub and claims';

$r = get('/', rs256({ %$claims, sub => 'rsa-user' }));
is $r->{headers}{'x-sub'}, "sub=rsa-user role=trader n=42", 'valid RS256 token by kid';

$r = get('/', hs512({ sub => 'jwks-user' }, kid => 'j1', key => $secret2));
is $r->{status}, 200, 'token verified with a JWKS key';

$r = get('/', hs256({ sub => 'env-user' }, kid => 'envkey',
                    key => 'from-the-environment-0123456789'));
is $r->{status}, 200, 'key from an environment variable';

$r = get('/', hs256({ %$claims, exp => $now - 10 }));
is $r->{status}, 200, 'expired within the leeway';

$r = http(GET => $ng->url('/'), headers => { Cookie => 'a=b; kx_token=' . hs256($claims) });
is $r->{status}, 200, 'token from the configured cookie';

$r = http(GET => $ng->url('/?token=' . hs256($claims)));
is $r->{status}, 200, 'token from the configured query argument';

$r = get('/open');
is $r->{status}, 200, 'optional: no token is fine';
is $r->{headers}{'x-sub'}, "sub= role= n=", 'optional: no subject';

$r = get('/public');
is $r->{status}, 200, 'off: no token needed';

# --- refused --------------------------------------------------------------

refused(get('/'), 'no token', 'unauthorized');
refused(get('/', hs256({ %$claims, exp => $now - 120 })), 'expired', 'token_expired');
refused(get('/', hs256({ %$claims, nbf => $now + 120 })), 'not yet valid');
refused(get('/', hs256($claims, key => 'wrong-secret')), 'wrong signature');

my $none = b64j({ alg => 'none', typ => 'JWT' }) . '.' . b64j($claims);
refused(get('/', "$none."), 'alg none, empty signature');
refused(get('/', "$none.AAAA"), 'alg none with a signature');

# HS256 signed with the RSA public key as HMAC secret: key confusion
my $pub = do { local $/; open my $fh, '<', "$dir/rsa.pub" or die; <$fh> };
refused(get('/', hs256($claims, kid => 'rsa1', key => $pub)), 'HS token against the RSA key');

refused(get('/', hs256($claims, kid => 'nobody')), 'unknown kid');
refused(get('/', 'not.a.jwt'), 'malformed');
refused(get('/', 'x' x 5000), 'oversized (over kx_jwt_max_size)');
refused(get('/', hs256({ exp => $now + 60 })), 'no subject');

my $t = hs256($claims);
my ($h, $p, $s) = split /\./, $t;
refused(get('/', join '.', $h, b64j({ %$claims, sub => 'admin' }), $s), 'tampered claims');

$r = http(GET => $ng->url('/'), headers => { Authorization => "Basic dXNlcjpwYXNz" });
refused($r, 'Basic auth is not a bearer token', 'unauthorized');

# issuer and audience where required
$r = get('/strict', hs256({ %$claims, iss => 'kianax', aud => 'api' }));
is $r->{status}, 200, 'iss and aud as required';
refused(get('/strict', hs256({ %$claims, iss => 'other', aud => 'api' })), 'wrong issuer');
refused(get('/strict', hs256({ %$claims, iss => 'kianax' })), 'missing audience');

# --- key rotation by reload ------------------------------------------------

my $old = hs256($claims);
spew("$dir/hs.key", "rotated-secret-abcdefabcdefabcdef\n");
my @old_workers = $ng->worker_pids;
$ng->reload;
# the old workers serve (with the old keys) until they have left
wait_until(sub { !grep { kill 0, $_ } @old_workers }, timeout => 20);
refused(get('/', $old), 'old key after reload');
$r = get('/', hs256($claims, key => 'rotated-secret-abcdefabcdefabcdef'));
is $r->{status}, 200, 'new key after reload';

done_testing;

sub spew {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}
