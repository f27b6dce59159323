package Kx::FakePolygon;

# A fake Polygon.io (REST and the stocks WebSocket stream) in a forked child,
# speaking the documented wire formats, for the Polygon adapter's tests. See
# the POD at the end of this file.

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(sha1_base64);
use Errno qw(EINTR EAGAIN EWOULDBLOCK);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Protocol::WebSocket::Frame;
use Time::HiRes qw(time sleep);

use Kx::Test ();

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $CONTROL = '/__fake/';
my $WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

my %REASON = (
    200 => 'OK', 400 => 'Bad Request', 401 => 'Unauthorized',
    403 => 'Forbidden', 404 => 'Not Found', 429 => 'Too Many Requests',
    500 => 'Internal Server Error', 502 => 'Bad Gateway',
    503 => 'Service Unavailable', 504 => 'Gateway Timeout',
);

# Polygon's own error bodies (status, request_id, error|message)
my %ERROR_BODY = (
    401 => { status => 'ERROR', error => 'Unknown API Key' },
    403 => { status => 'NOT_AUTHORIZED',
             message => 'You are not entitled to this data. Please upgrade '
                      . 'your plan at https://polygon.io/pricing' },
    404 => { status => 'NOT_FOUND', message => 'Data not found.' },
    429 => { status => 'ERROR',
             error => "You've exceeded the maximum requests per minute, "
                    . 'please wait or upgrade your subscription to continue.' },
    500 => { status => 'ERROR', error => 'Internal server error' },
    502 => { status => 'ERROR', error => 'Bad gateway' },
    503 => { status => 'ERROR', error => 'Service unavailable' },
);

# ---------------------------------------------------------------------------
# Parent side

# Kx::FakePolygon->start(key => 'k', tickers => {AAPL => $raw_json, ...},
#   bars => {AAPL => [$raw_bar, ...]}, news => {AAPL => [$raw_item, ...]},
#   page_size => 0)
sub start {
    my ($class, %o) = @_;
    my $self = bless {
        port => $o{port} // Kx::Test::free_port(),
        init => {
            key       => $o{key} // 'test-key',
            tickers   => $o{tickers} // {},
            bars      => $o{bars} // {},
            news      => $o{news} // {},
            page_size => $o{page_size} // 0,
        },
    }, $class;
    $self->_spawn;
    Kx::Test::_register($self) if defined &Kx::Test::_register;
    return $self;
}

sub port   { $_[0]{port} }
sub pid    { $_[0]{pid} }
sub url    { "http://127.0.0.1:$_[0]{port}" }
sub ws_url { "ws://127.0.0.1:$_[0]{port}/stocks" }
sub key    { $_[0]{init}{key} }

# set(tickers => {...}, bars => {...}, news => {...}, key => ..., page_size)
sub set { my ($s, %o) = @_; $s->_control(POST => 'set', \%o); $s }

# error($status) for every REST request ($status 0: none);
# error($status, $path_prefix) for matching paths only
sub error {
    my ($s, $status, $prefix) = @_;
    $s->_control(POST => 'error', { status => $status, prefix => $prefix });
    $s;
}

# delay(ms): REST answers come that much later (others are served meanwhile)
sub delay { my ($s, $ms) = @_; $s->_control(POST => 'delay', { ms => $ms }); $s }

sub hits {
    my ($s, $path) = @_;
    my $h = $s->_control(GET => 'hits');
    return defined $path ? ($h->{$path} // 0) : $h;
}

# requests($path) -> [ {method, path, query, headers}, ... ]
sub requests { my ($s, $p) = @_; $s->_control(POST => 'requests', { path => $p }) }

sub reset_hits { $_[0]->_control(POST => 'reset', {}); $_[0] }

# ws_state() -> { connections, authed, auths, auth_failures,
#                 subscriptions => [...], connects }
sub ws_state { $_[0]->_control(GET => 'ws_state') }

# ws_send($raw_text): one text message to every authenticated stream
sub ws_send { my ($s, $t) = @_; $s->_control(POST => 'ws_send', { text => $t }) }

# ws_drop(): close every stream's TCP connection at once (no close frame)
sub ws_drop { $_[0]->_control(POST => 'ws_drop', {}) }

# ws_refuse(1): answer upgrades with 503 until ws_refuse(0)
sub ws_refuse { my ($s, $on) = @_; $s->_control(POST => 'ws_refuse', { on => $on ? 1 : 0 }) }

# a Polygon that hangs: no answer, no pong, though TCP still connects
sub kill_stop { my $s = shift; kill 'STOP', $s->{pid} if $s->{pid}; 1 }
sub kill_cont { my $s = shift; kill 'CONT', $s->{pid} if $s->{pid}; 1 }

sub stop {
    my ($self) = @_;
    if (my $pid = delete $self->{pid}) {
        kill 'CONT', $pid;
        kill 'TERM', $pid;
        my $deadline = time + 5;
        while (waitpid($pid, WNOHANG) == 0) {
            if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last }
            sleep 0.01;
        }
    }
    Kx::Test::_unregister($self) if defined &Kx::Test::_unregister;
    return 1;
}

sub _spawn {
    my ($self) = @_;
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $self->{port}, Proto => 'tcp',
        Listen => 128, ReuseAddr => 1)
        or croak "FakePolygon: listen on port $self->{port}: $!";
    my $pid = fork;
    croak "FakePolygon: fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $rc = eval {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT CHLD);
            $SIG{PIPE} = 'IGNORE';
            _serve($listen, $self->{init});
            1;
        };
        print STDERR "FakePolygon: $@" unless $rc;
        POSIX::_exit($rc ? 0 : 1);
    }
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub _control {
    my ($self, $method, $what, $data) = @_;
    my $res = HTTP::Tiny->new(timeout => 5, keep_alive => 0)->request(
        $method, $self->url . $CONTROL . $what,
        defined $data ? { content => $JSON->encode($data),
                          headers => { 'Content-Type' => 'application/json' } }
                      : {});
    croak "FakePolygon: $method $what: $res->{status} $res->{content}"
        unless $res->{success};
    return length $res->{content} ? $JSON->decode($res->{content}) : undef;
}

# ---------------------------------------------------------------------------
# Child side

sub _serve {
    my ($listen, $init) = @_;
    my %st = (
        %$init,
        error    => { status => 0 },
        delay_ms => 0,
        hits     => {},
        requests => {},
        conns    => {},
        timers   => [],
        ws       => { auths => 0, auth_failures => 0, connects => 0,
                      refuse => 0 },
        seq      => 0,
    );
    my $sel = IO::Select->new($listen);
    $st{sel} = $sel;
    $listen->blocking(0);
    while (1) {
        my $wait = 0.2;
        if (@{ $st{timers} }) {
            my $due = $st{timers}[0][0] - time;
            $wait = $due < 0 ? 0 : ($due < $wait ? $due : $wait);
        }
        for my $fh ($sel->can_read($wait)) {
            if ($fh == $listen) {
                while (my $c = $listen->accept) {
                    binmode $c;
                    $c->blocking(0);
                    $st{conns}{fileno $c} = { sock => $c, buf => '' };
                    $sel->add($c);
                }
                next;
            }
            my $conn = $st{conns}{fileno $fh} or next;
            my $n = sysread($fh, $conn->{buf}, 65536, length $conn->{buf});
            if (!defined $n) {
                next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
                _close(\%st, $conn);
                next;
            }
            if ($n == 0) { _close(\%st, $conn); next }
            if ($conn->{ws}) { _ws_read(\%st, $conn) } else { _http(\%st, $conn) }
        }
        my $now = time;
        while (@{ $st{timers} } && $st{timers}[0][0] <= $now) {
            my (undef, $conn, $resp, $req) = @{ shift @{ $st{timers} } };
            next if $conn->{closed};
            _respond(\%st, $conn, $resp, $req);
        }
    }
}

sub _close {
    my ($st, $conn) = @_;
    return if $conn->{closed};
    $conn->{closed} = 1;
    $st->{sel}->remove($conn->{sock});
    delete $st->{conns}{fileno $conn->{sock}};
    close $conn->{sock};
}

sub _write {
    my ($st, $conn, $out) = @_;
    my $s = $conn->{sock};
    $s->blocking(1);
    my $off = 0;
    while ($off < length $out) {
        my $n = syswrite($s, $out, length($out) - $off, $off);
        if (!defined $n) { next if $! == EINTR; _close($st, $conn); return }
        $off += $n;
    }
    $s->blocking(0);
}

sub _http {
    my ($st, $conn) = @_;
    while (!$conn->{busy} && !$conn->{closed} && !$conn->{ws}) {
        my $end = index($conn->{buf}, "\r\n\r\n");
        return if $end < 0;
        my $head = substr($conn->{buf}, 0, $end);
        my ($line, @lines) = split /\r\n/, $head;
        my ($method, $target, $version) =
            ($line // '') =~ m{^([A-Z]+) (\S+) (HTTP/1\.[01])$}
            or do { _close($st, $conn); return };
        my %h;
        for (@lines) {
            my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
            $h{lc $k} = $v;
        }
        my $len = $h{'content-length'} // 0;
        return if length($conn->{buf}) < $end + 4 + $len;
        my $body = substr($conn->{buf}, $end + 4, $len);
        substr($conn->{buf}, 0, $end + 4 + $len, '');
        my ($path, $query) = $target =~ /^([^?]*)(?:\?(.*))?$/;
        my $req = { method => $method, path => $path, query => $query // '',
                    version => $version, headers => \%h, body => $body };

        if (($h{upgrade} // '') =~ /websocket/i) {
            _ws_upgrade($st, $conn, $req);
            return;
        }
        if (index($path, $CONTROL) == 0) {
            _respond($st, $conn, _control_request($st, $req), $req);
            next;
        }
        $st->{hits}{$path}++;
        my $rec = $st->{requests}{$path} //= [];
        push @$rec, { map { $_ => $req->{$_} } qw(method path query headers) };
        shift @$rec while @$rec > 50;

        my $resp = _rest($st, $req);
        if ($st->{delay_ms}) {
            $conn->{busy} = 1;
            my $t = $st->{timers};
            push @$t, [time + $st->{delay_ms} / 1000, $conn, $resp, $req];
            @$t = sort { $a->[0] <=> $b->[0] } @$t;
            return;
        }
        _respond($st, $conn, $resp, $req);
    }
}

sub _respond {
    my ($st, $conn, $resp, $req) = @_;
    $conn->{busy} = 0;
    my $status = $resp->{status} // 200;
    my $body = $resp->{body} // '';
    my $out = "HTTP/1.1 $status " . ($REASON{$status} // 'Status') . "\r\n"
            . "Content-Type: application/json; charset=utf-8\r\n"
            . 'Content-Length: ' . length($body) . "\r\n"
            . join('', map { "$_: $resp->{headers}{$_}\r\n" }
                           sort keys %{ $resp->{headers} // {} })
            . "Connection: keep-alive\r\n\r\n" . $body;
    _write($st, $conn, $out);
    _http($st, $conn) if !$conn->{closed} && length $conn->{buf};
}

sub _query {
    my ($q) = @_;
    my %q;
    for (split /&/, $q // '') {
        my ($k, $v) = split /=/, $_, 2;
        next unless defined $k;
        $v //= '';
        s/%([0-9A-Fa-f]{2})/chr hex $1/ge for $k, $v;
        $q{$k} = $v;
    }
    return \%q;
}

sub _rid { sprintf '%032x', ++$_[0]{seq} }

sub _err {
    my ($st, $status) = @_;
    my $b = { %{ $ERROR_BODY{$status} // { status => 'ERROR', error => 'error' } },
              request_id => _rid($st) };
    return { status => $status, body => $JSON->encode($b),
             headers => $status == 429 ? { 'Retry-After' => 1 } : {} };
}

sub _ok { my ($st, $raw) = @_; return { status => 200, body => $raw } }

# ISO 8601 UTC (what published_utc holds) -> epoch ms
sub _iso_ms {
    my ($s) = @_;
    my ($y, $mo, $d, $h, $mi, $sec, $frac) =
        $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:Z|\+00:00)$/
        or return undef;
    require Time::Local;
    my $ms = Time::Local::timegm($sec, $mi, $h, $d, $mo - 1, $y) * 1000;
    $ms += int(substr(($frac // '') . '000', 0, 3)) if defined $frac;
    return $ms;
}

sub _rest {
    my ($st, $req) = @_;
    my $q = _query($req->{query});

    # the key, as Polygon takes it: Authorization: Bearer, or apiKey=
    my ($bearer) = ($req->{headers}{authorization} // '') =~ /^Bearer\s+(\S+)$/;
    my $key = $bearer // $q->{apiKey};
    return _err($st, 401) unless defined $key && $key eq $st->{key};

    my $e = $st->{error};
    if ($e->{status}
        && (!defined $e->{prefix} || index($req->{path}, $e->{prefix}) == 0))
    {
        return _err($st, $e->{status});
    }

    my $p = $req->{path};
    if ($p =~ m{^/v2/snapshot/locale/us/markets/stocks/tickers/([^/]+)$}) {
        my $raw = $st->{tickers}{$1};
        return { status => 404, body => $JSON->encode({
                     status => 'NOT_FOUND', request_id => _rid($st),
                     message => 'Ticker not found.' }) } unless defined $raw;
        return _ok($st, '{"request_id":"' . _rid($st)
                      . '","status":"OK","ticker":' . $raw . '}');
    }
    if ($p eq '/v2/snapshot/locale/us/markets/stocks/tickers') {
        my @t = grep { defined $st->{tickers}{$_} }
                split /,/, ($q->{tickers} // '');
        return _ok($st, '{"status":"OK","request_id":"' . _rid($st)
                      . '","count":' . scalar(@t) . ',"tickers":['
                      . join(',', map { $st->{tickers}{$_} } @t) . ']}');
    }
    if ($p =~ m{^/v2/last/nbbo/([^/]+)$}) {
        my $raw = $st->{tickers}{$1};
        return _err($st, 404) unless defined $raw;
        my $t = $JSON->decode($raw);
        my $lq = $t->{lastQuote} // {};
        return _ok($st, $JSON->encode({ status => 'OK', request_id => _rid($st),
            results => { %$lq, T => $1 } }));
    }
    if ($p =~ m{^/v2/aggs/ticker/([^/]+)/range/(\d+)/(\w+)/(\d+)/(\d+)$}) {
        my ($sym, $mult, $span, $from, $to) = ($1, $2, $3, $4, $5);
        my @bars = map { [ $JSON->decode($_)->{t}, $_ ] }
                   @{ $st->{bars}{$sym} // [] };
        @bars = grep { $_->[0] >= $from && $_->[0] <= $to } @bars;
        @bars = sort { $a->[0] <=> $b->[0] } @bars;
        @bars = reverse @bars if ($q->{sort} // 'asc') eq 'desc';
        my $skip = $q->{cursor} // 0;
        my $size = $st->{page_size} || 50000;
        my @page = @bars[$skip .. ($skip + $size - 1 < $#bars
                                   ? $skip + $size - 1 : $#bars)];
        @page = () if $skip > $#bars;
        my $body = '{"ticker":"' . $sym . '","queryCount":' . scalar(@page)
                 . ',"resultsCount":' . scalar(@page) . ',"adjusted":true,'
                 . (@page ? '"results":[' . join(',', map { $_->[1] } @page)
                          . '],' : '')
                 . '"status":"OK","request_id":"' . _rid($st) . '","count":'
                 . scalar(@page);
        if ($skip + $size <= $#bars) {
            my %nq = (%$q, cursor => $skip + $size);
            delete $nq{apiKey};
            # a next_url names Polygon's host: the adapter keeps the path
            $body .= ',"next_url":"https://api.polygon.io' . $p . '?'
                   . join('&', map { "$_=$nq{$_}" } sort keys %nq) . '"';
        }
        return _ok($st, $body . '}');
    }
    if ($p eq '/v2/reference/news') {
        my $sym = $q->{ticker} // '';
        my @items = map { [ _iso_ms($JSON->decode($_)->{published_utc}) // 0, $_ ] }
                    @{ $st->{news}{$sym} // [] };
        if (defined(my $lt = $q->{'published_utc.lt'})) {
            my $ms = _iso_ms($lt);
            @items = grep { $_->[0] < $ms } @items if defined $ms;
        }
        @items = sort { $b->[0] <=> $a->[0] } @items;
        my $limit = $q->{limit} // 10;
        splice @items, $limit if @items > $limit;
        return _ok($st, '{"results":[' . join(',', map { $_->[1] } @items)
                      . '],"status":"OK","request_id":"' . _rid($st)
                      . '","count":' . scalar(@items) . '}');
    }
    return _err($st, 404);
}

sub _control_request {
    my ($st, $req) = @_;
    my $what = substr($req->{path}, length $CONTROL);
    my $d = length $req->{body} ? eval { $JSON->decode($req->{body}) } // {} : {};
    my $ok = { status => 200, body => '{"ok":true}' };
    if ($what eq 'set') {
        for my $k (qw(key page_size)) { $st->{$k} = $d->{$k} if exists $d->{$k} }
        for my $k (qw(tickers bars news)) {
            next unless $d->{$k};
            $st->{$k}{$_} = $d->{$k}{$_} for keys %{ $d->{$k} };
        }
        return $ok;
    }
    if ($what eq 'error') { $st->{error} = $d; return $ok }
    if ($what eq 'delay') { $st->{delay_ms} = $d->{ms} // 0; return $ok }
    if ($what eq 'hits') { return { status => 200, body => $JSON->encode($st->{hits}) } }
    if ($what eq 'requests') {
        return { status => 200,
                 body => $JSON->encode($st->{requests}{ $d->{path} // '' } // []) };
    }
    if ($what eq 'reset') { $st->{hits} = {}; $st->{requests} = {}; return $ok }
    if ($what eq 'ws_state') {
        my @ws = grep { $_->{ws} } values %{ $st->{conns} };
        my %subs;
        for my $c (@ws) { $subs{$_} = 1 for keys %{ $c->{subs} // {} } }
        return { status => 200, body => $JSON->encode({
            connections   => scalar(@ws),
            authed        => scalar(grep { $_->{authed} } @ws),
            auths         => $st->{ws}{auths},
            auth_failures => $st->{ws}{auth_failures},
            connects      => $st->{ws}{connects},
            subscriptions => [ sort keys %subs ],
        }) };
    }
    if ($what eq 'ws_send') {
        my $n = 0;
        for my $c (grep { $_->{ws} && $_->{authed} } values %{ $st->{conns} }) {
            _ws_text($st, $c, $d->{text});
            $n++;
        }
        return { status => 200, body => $JSON->encode({ sent => $n }) };
    }
    if ($what eq 'ws_drop') {
        _close($st, $_) for grep { $_->{ws} } values %{ $st->{conns} };
        return $ok;
    }
    if ($what eq 'ws_refuse') { $st->{ws}{refuse} = $d->{on}; return $ok }
    return { status => 400, body => '{"error":"bad control request"}' };
}

# --- WebSocket (server side of RFC 6455) -----------------------------------

sub _ws_upgrade {
    my ($st, $conn, $req) = @_;
    my $key = $req->{headers}{'sec-websocket-key'};
    if ($st->{ws}{refuse} || $req->{path} ne '/stocks' || !defined $key
        || ($req->{headers}{'sec-websocket-version'} // '') ne '13')
    {
        _write($st, $conn, "HTTP/1.1 503 Service Unavailable\r\n"
                         . "Content-Length: 0\r\nConnection: close\r\n\r\n");
        _close($st, $conn);
        return;
    }
    my $accept = sha1_base64($key . $WS_GUID) . '=';
    _write($st, $conn, "HTTP/1.1 101 Switching Protocols\r\n"
                     . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     . "Sec-WebSocket-Accept: $accept\r\n\r\n");
    $conn->{ws} = 1;
    $conn->{frame} = Protocol::WebSocket::Frame->new(max_payload_size => 1 << 20);
    $conn->{subs} = {};
    $st->{ws}{connects}++;
    _ws_text($st, $conn, '[{"ev":"status","status":"connected",'
                       . '"message":"Connected Successfully"}]');
    _ws_read($st, $conn) if length $conn->{buf};
}

sub _ws_text {
    my ($st, $conn, $text) = @_;
    return if $conn->{closed};
    _write($st, $conn, Protocol::WebSocket::Frame->new(
        buffer => $text, type => 'text')->to_bytes);
}

sub _ws_read {
    my ($st, $conn) = @_;
    my $f = $conn->{frame};
    # clients must mask (RFC 6455 5.1): an unmasked frame ends the stream
    if (length $conn->{buf} >= 2 && !(ord(substr($conn->{buf}, 1, 1)) & 0x80)) {
        _close($st, $conn);
        return;
    }
    $f->append(substr($conn->{buf}, 0, length $conn->{buf}, ''));
    while (defined(my $msg = $f->next_bytes)) {
        if ($f->is_ping) {
            _write($st, $conn, Protocol::WebSocket::Frame->new(
                buffer => $msg, type => 'pong')->to_bytes);
            next;
        }
        if ($f->is_close) {
            _write($st, $conn, Protocol::WebSocket::Frame->new(
                buffer => $msg, type => 'close')->to_bytes);
            _close($st, $conn);
            return;
        }
        next unless $f->is_text;
        my $m = eval { $JSON->decode($msg) } or next;
        my $action = $m->{action} // '';
        if ($action eq 'auth') {
            if (($m->{params} // '') eq $st->{key}) {
                $conn->{authed} = 1;
                $st->{ws}{auths}++;
                _ws_text($st, $conn, '[{"ev":"status","status":"auth_success",'
                                   . '"message":"authenticated"}]');
            }
            else {
                $st->{ws}{auth_failures}++;
                _ws_text($st, $conn, '[{"ev":"status","status":"auth_failed",'
                                   . '"message":"authentication failed"}]');
            }
        }
        elsif ($action eq 'subscribe' && $conn->{authed}) {
            my @p = split /,/, ($m->{params} // '');
            $conn->{subs}{$_} = 1 for @p;
            _ws_text($st, $conn, $JSON->encode([{ ev => 'status',
                status => 'success',
                message => 'subscribed to: ' . ($m->{params} // '') }]));
        }
    }
}

1;

__END__

=head1 NAME

Kx::FakePolygon - a fake Polygon.io REST API and stocks WebSocket stream

=head1 SYNOPSIS

    my $poly = Kx::FakePolygon->start(
        key     => 'k1',
        tickers => { AAPL => '{"ticker":"AAPL","lastQuote":{"p":1.5,...},...}' },
        bars    => { AAPL => [ '{"o":1.1,"h":1.2,"l":1,"c":1.15,"v":100,"t":...}' ] },
        news    => { AAPL => [ '{"id":"x","title":"...","published_utc":"..."}' ] },
    );
    ... kx_market_provider polygon url=<$poly->url> ws=<$poly->ws_url> ...
    $poly->error(429);  $poly->error(0);      # every REST answer an error
    $poly->delay(3000);                       # slow REST answers
    $poly->ws_send('[{"ev":"Q","sym":"AAPL","bp":1.5,...}]');
    $poly->ws_drop;                           # the feed drops the socket
    $poly->kill_stop; ... $poly->kill_cont;   # the feed hangs
    $poly->ws_state->{authed};

=head1 DESCRIPTION

One forked child on one port serves both the REST paths (snapshot of one
and of several tickers, last NBBO, aggregates with next_url paging when
page_size is set, reference news) and the WebSocket at /stocks. Data is
given as raw JSON text, so numbers reach the client exactly as written.
The key is checked (Authorization: Bearer, or apiKey=) on every REST
request (401 otherwise) and in the stream's auth message (auth_failed).
Errors use Polygon's bodies ({"status":"NOT_AUTHORIZED",...} for 403).
Control requests go to /__fake/ on the same port; they are answered while
REST answers are delayed.

=cut
