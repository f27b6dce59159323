package Kx::FakeAlpaca;

# A fake Alpaca Trading API v2 server (paper account) in a forked child, for
# the Alpaca broker adapter's tests. It speaks the documented request and
# response formats, checks the APCA-API-KEY-ID / APCA-API-SECRET-KEY headers,
# keeps orders, positions and cash, fills market orders at a configurable
# price, answers Alpaca-shaped errors, and can be made to fail, slow or
# down. See the POD at the end of this file.

use strict;
use warnings;

use Carp qw(croak);
use Errno qw(EINTR EAGAIN EWOULDBLOCK);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use Math::BigFloat;
use POSIX qw(WNOHANG strftime);
use Time::HiRes qw(time sleep);

use Kx::Test ();

our $VERSION = '0.01';

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my %REASON = (
    200 => 'OK', 204 => 'No Content', 207 => 'Multi-Status',
    400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden',
    404 => 'Not Found', 405 => 'Method Not Allowed',
    422 => 'Unprocessable Entity', 429 => 'Too Many Requests',
    500 => 'Internal Server Error', 502 => 'Bad Gateway',
    503 => 'Service Unavailable', 504 => 'Gateway Timeout',
);

my $CONTROL = '/__fake/';
my $MAX_RECORDED = 500;

my @OPEN = qw(new accepted pending_new partially_filled accepted_for_bidding
              held pending_cancel pending_replace done_for_day stopped
              suspended calculated);
my %OPEN = map { $_ => 1 } @OPEN;

# ---------------------------------------------------------------------------
# Parent side

# Kx::FakeAlpaca->start(key => 'AKID', secret => 'S', cash => '100000',
#     price => '100', prices => { AAPL => '187.5' }, fill => 'immediate',
#     fill_delay_ms => 0, shorting => 0, symbols => [...])
sub start {
    my ($class, %o) = @_;
    my $self = bless {
        port  => $o{port} // Kx::Test::free_port(),
        state => {
            key           => $o{key} // 'AKFAKEKEYID0000000000',
            secret        => $o{secret} // 'fake-secret-key-0000000000000000',
            cash          => '' . ($o{cash} // '100000'),
            price         => '' . ($o{price} // '100'),
            prices        => { %{ $o{prices} // {} } },
            fill          => $o{fill} // 'immediate',
            fill_delay_ms => $o{fill_delay_ms} // 0,
            cancel        => $o{cancel} // 'immediate',
            shorting      => $o{shorting} // 0,
            symbols       => $o{symbols},
            positions     => {},
            orders        => [],
            delay_ms      => 0,
            stall         => 0,
            rules         => [],
        },
    }, $class;
    $self->_spawn($self->{state});
    Kx::Test::_register($self) if defined &Kx::Test::_register;
    return $self;
}

sub port   { $_[0]{port} }
sub pid    { $_[0]{pid} }
sub url    { my ($s, $p) = @_; $p //= ''; "http://127.0.0.1:$s->{port}$p" }
sub key    { $_[0]{state}{key} }
sub secret { $_[0]{state}{secret} }

# the market moves: resting limit and stop orders that cross it fill
sub set_price { my ($s, $sym, $p) = @_; $s->_control(set_price => { symbol => $sym, price => "$p" }) }

# settings: price, fill (immediate|manual), fill_delay_ms, cancel
# (immediate|pending), shorting, cash
sub set { my ($s, %kv) = @_; $s->_control(set => \%kv) }

# an execution of an open order (partial or whole) at a price
sub fill {
    my ($s, $id, $qty, $price) = @_;
    return $s->_control(fill => { id => $id, qty => "$qty", price => "$price" });
}

# the broker itself cancels or expires an order (e.g. end of day)
sub broker_cancel { my ($s, $id) = @_; $s->_control(broker_cancel => { id => $id }) }
sub expire_day    { $_[0]->_control(expire_day => {}) }

# fail('POST', '^/v2/orders$', $resp | [$resp, ...]): the next requests that
# match take these answers, one each. A response: status, json or body,
# headers, apply => 1 (do the work, then answer this instead), delay_ms,
# stall => 1, close => 1.
sub fail {
    my ($s, $method, $path, $resp) = @_;
    $resp = [$resp] unless ref $resp eq 'ARRAY';
    return $s->_control(fail => { method => $method, path => $path,
                                  responses => $resp });
}
sub clear_failures { $_[0]->_control(clear_failures => {}) }

# every API answer this late (ms); stall(1): never answered
sub slow  { my ($s, $ms) = @_; $s->_control(slow => { ms => $ms // 0 }) }
sub stall { my ($s, $on) = @_; $s->_control(stall => { on => $on ? 1 : 0 }) }

# what the server holds, as the API would show it
sub orders    { $_[0]->_control('orders') }
sub order     { my ($s, $id) = @_; (grep { $_->{id} eq $id } @{ $s->orders })[0] }
sub order_by_client_id {
    my ($s, $cid) = @_;
    return undef unless defined $cid;
    return (grep { $_->{client_order_id} eq $cid } @{ $s->orders })[0];
}
sub positions { $_[0]->_control('positions') }
sub account   { $_[0]->_control('account') }

# requests received (API only): [{method, path, query, headers, body}]
sub requests {
    my ($s, $method, $re) = @_;
    my $all = $s->_control('requests');
    return [ grep { (!defined $method || $_->{method} eq $method)
                    && (!defined $re || $_->{path} =~ $re) } @$all ];
}
sub reset_requests { $_[0]->_control(reset_requests => {}) }

sub kill_stop { my $s = shift; kill 'STOP', $s->{pid} if $s->{pid}; 1 }
sub kill_cont { my $s = shift; kill 'CONT', $s->{pid} if $s->{pid}; 1 }
sub running   { my $s = shift; return $s->{pid} && Kx::Test::_alive($s->{pid}) }

# down: nothing listens (connections refused); the state is kept for restart
sub stop {
    my ($self) = @_;
    if ($self->{pid}) {
        my $st = eval { $self->_control('state') };
        $self->{state} = $st if $st;
    }
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

sub restart {
    my ($self) = @_;
    $self->stop if $self->{pid};
    $self->_spawn($self->{state});
    Kx::Test::_register($self) if defined &Kx::Test::_register;
    return $self;
}

sub _spawn {
    my ($self, $state) = @_;
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $self->{port}, Proto => 'tcp',
        Listen => 128, ReuseAddr => 1)
        or croak "FakeAlpaca: listen on port $self->{port}: $!";
    my $pid = fork;
    croak "FakeAlpaca: fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $rc = eval {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT CHLD);
            $SIG{PIPE} = 'IGNORE';
            _serve($listen, $state);
            1;
        };
        print STDERR "FakeAlpaca: $@" unless $rc;
        POSIX::_exit($rc ? 0 : 1);
    }
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub _control {
    my ($self, $what, $data) = @_;
    my $res = HTTP::Tiny->new(timeout => 5, keep_alive => 0)->request(
        defined $data ? 'POST' : 'GET', $self->url($CONTROL . $what),
        defined $data ? { content => $JSON->encode($data),
                          headers => { 'Content-Type' => 'application/json' } }
                      : {});
    croak "FakeAlpaca: $what: $res->{status} $res->{content}"
        unless $res->{success};
    return length $res->{content} ? $JSON->decode($res->{content}) : undef;
}

# ---------------------------------------------------------------------------
# Child side: one process, select() over every connection

my %S;            # the account: see start()
my @TIMERS;       # [when, code], sorted
my @RECORDED;

sub _serve {
    my ($listen, $state) = @_;
    %S = %$state;
    _thaw();
    my %conns;
    my $sel = IO::Select->new($listen);
    $listen->blocking(0);
    while (1) {
        my $wait = 0.5;
        if (@TIMERS) {
            my $due = $TIMERS[0][0] - time;
            $wait = $due < 0 ? 0 : ($due < $wait ? $due : $wait);
        }
        for my $fh ($sel->can_read($wait)) {
            if ($fh == $listen) {
                while (my $c = $listen->accept) {
                    binmode $c;
                    $c->blocking(0);
                    $conns{fileno $c} = { sock => $c, buf => '', sel => $sel,
                                          conns => \%conns };
                    $sel->add($c);
                }
                next;
            }
            my $conn = $conns{fileno $fh} or next;
            my $n = sysread($fh, $conn->{buf}, 65536, length $conn->{buf});
            if (!defined $n) {
                next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
                _close($conn);
                next;
            }
            if ($n == 0) { _close($conn); next }
            _process($conn);
        }
        my $now = time;
        while (@TIMERS && $TIMERS[0][0] <= $now) {
            my (undef, $code) = @{ shift @TIMERS };
            $code->();
        }
    }
}

sub _later {
    my ($ms, $code) = @_;
    push @TIMERS, [time + $ms / 1000, $code];
    @TIMERS = sort { $a->[0] <=> $b->[0] } @TIMERS;
}

sub _close {
    my ($conn) = @_;
    return if $conn->{closed};
    $conn->{closed} = 1;
    $conn->{sel}->remove($conn->{sock});
    delete $conn->{conns}{fileno $conn->{sock}};
    close $conn->{sock};
}

sub _process {
    my ($conn) = @_;
    while (!$conn->{busy} && !$conn->{closed}) {
        my $req = _parse(\$conn->{buf}) or return;
        if ($req->{bad}) {
            _respond($conn, { status => 400, body => 'bad request' },
                     { version => 'HTTP/1.0', headers => {}, method => '' });
            _close($conn);
            return;
        }
        _handle($conn, $req);
    }
}

sub _parse {
    my ($bufref) = @_;
    my $end = index($$bufref, "\r\n\r\n");
    if ($end < 0) {
        return length $$bufref > 65536 ? { bad => 1 } : undef;
    }
    my ($line, @lines) = split /\r\n/, substr($$bufref, 0, $end);
    my ($method, $target, $version) =
        ($line // '') =~ m{^([A-Z]+) (\S+) (HTTP/1\.[01])$}
        or return { bad => 1 };
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or return { bad => 1 };
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }
    my $len = $h{'content-length'} // 0;
    return { bad => 1 } unless $len =~ /^\d+$/;
    return undef if length($$bufref) < $end + 4 + $len;
    my $body = substr($$bufref, $end + 4, $len);
    substr($$bufref, 0, $end + 4 + $len, '');
    my ($path, $query) = $target =~ /^([^?]*)(?:\?(.*))?$/;
    my %q;
    for (split /&/, $query // '') {
        my ($k, $v) = split /=/, $_, 2;
        next unless defined $k;
        $v //= '';
        s/\+/ /g, s/%([0-9A-Fa-f]{2})/chr hex $1/ge for $k, $v;
        $q{$k} = $v;
    }
    return { method => $method, path => $path, query => $query // '',
             args => \%q, version => $version, headers => \%h, body => $body };
}

sub _handle {
    my ($conn, $req) = @_;
    if (index($req->{path}, $CONTROL) == 0) {
        _respond($conn, _control_request($req), $req);
        return;
    }
    push @RECORDED, { map { $_ => $req->{$_} }
                      qw(method path query headers body) };
    shift @RECORDED while @RECORDED > $MAX_RECORDED;

    if ($S{stall}) { $conn->{busy} = 1; return }

    my $resp;
    my $rule = _take_rule($req);
    if ($rule && $rule->{apply}) {
        _api($req);              # the work is done; the answer is lost
        $resp = $rule;
    } elsif ($rule) {
        $resp = $rule;
    } elsif (!_authorized($req)) {
        $resp = _err(401, 40110000, 'request is not authorized');
    } else {
        $resp = _api($req);
    }
    if ($resp->{stall}) { $conn->{busy} = 1; return }
    if ($resp->{close}) { _close($conn); return }
    my $ms = ($resp->{delay_ms} // 0) + ($S{delay_ms} // 0);
    if ($ms > 0) {
        $conn->{busy} = 1;
        _later($ms, sub { _respond($conn, $resp, $req) unless $conn->{closed} });
        return;
    }
    _respond($conn, $resp, $req);
}

sub _take_rule {
    my ($req) = @_;
    for my $i (0 .. $#{ $S{rules} }) {
        my $r = $S{rules}[$i];
        next unless ($r->{method} eq '*' || $r->{method} eq $req->{method})
                    && $req->{path} =~ /$r->{path}/;
        my $resp = shift @{ $r->{responses} };
        splice @{ $S{rules} }, $i, 1 unless @{ $r->{responses} };
        return $resp;
    }
    return undef;
}

sub _authorized {
    my ($req) = @_;
    my $h = $req->{headers};
    return (($h->{'apca-api-key-id'} // '') eq $S{key}
            && ($h->{'apca-api-secret-key'} // '') eq $S{secret});
}

sub _respond {
    my ($conn, $resp, $req) = @_;
    $conn->{busy} = 0;
    if (exists $resp->{json}) {
        $resp = { %$resp, body => $JSON->encode($resp->{json}),
                  content_type => 'application/json' };
    }
    my $status = $resp->{status} // 200;
    my $body = $resp->{body} // '';
    my $keep = $req->{version} eq 'HTTP/1.1'
        ? (($req->{headers}{connection} // '') !~ /close/i)
        : (($req->{headers}{connection} // '') =~ /keep-alive/i);
    my %h = (%{ $resp->{headers} // {} });
    $h{'Content-Type'} = $resp->{content_type} // 'application/json'
        if $status != 204;
    my $out = "HTTP/1.1 $status " . ($REASON{$status} // 'Status') . "\r\n";
    $out .= "$_: $h{$_}\r\n" for sort keys %h;
    $out .= 'Content-Length: ' . length($body) . "\r\n" if $status != 204;
    $out .= 'Connection: ' . ($keep ? 'keep-alive' : 'close') . "\r\n\r\n";
    $out .= $body unless $req->{method} eq 'HEAD' || $status == 204;
    my $s = $conn->{sock};
    $s->blocking(1);
    my $off = 0;
    while ($off < length $out) {
        my $n = syswrite($s, $out, length($out) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR;
            _close($conn);
            return;
        }
        $off += $n;
    }
    $s->blocking(0);
    _close($conn) unless $keep;
    _process($conn) if !$conn->{closed} && length $conn->{buf};
}

sub _ok  { return { status => $_[0], json => $_[1] } }
sub _err {
    my ($status, $code, $message, %extra) = @_;
    return { status => $status,
             json => { code => $code, message => $message, %extra } };
}

# --- the API ---------------------------------------------------------------

sub _api {
    my ($req) = @_;
    my ($m, $p) = @$req{qw(method path)};
    return _submit($req) if $m eq 'POST' && $p eq '/v2/orders';
    if ($m eq 'GET' && $p eq '/v2/orders') {
        return _list($req->{args});
    }
    if ($m eq 'GET' && $p eq '/v2/orders:by_client_order_id') {
        my $cid = $req->{args}{client_order_id} // '';
        my ($o) = grep { $_->{client_order_id} eq $cid } @{ $S{orders} };
        return $o ? _ok(200, _show($o))
                  : _err(404, 40410000, "order not found for $cid");
    }
    if ($p =~ m{^/v2/orders/([^/]+)$}) {
        my $id = $1;
        my ($o) = grep { $_->{id} eq $id } @{ $S{orders} };
        return _err(404, 40410000, "order not found for $id") unless $o;
        return _ok(200, _show($o)) if $m eq 'GET';
        return _cancel($o) if $m eq 'DELETE';
    }
    return _ok(200, [ map { _show_position($_) } sort keys %{ $S{positions} } ])
        if $m eq 'GET' && $p eq '/v2/positions';
    return _ok(200, _show_account()) if $m eq 'GET' && $p eq '/v2/account';
    return _err(404, 40410000, 'endpoint not found');
}

sub _submit {
    my ($req) = @_;
    my $b = eval { $JSON->decode($req->{body}) };
    return _err(400, 40010000, 'request body format is invalid')
        unless ref $b eq 'HASH';
    my $sym = $b->{symbol} // '';
    return _err(422, 40010001, 'symbol is required') unless length $sym;
    return _err(422, 40010001, "asset \"$sym\" not found")
        if $S{symbols} && !grep { $_ eq $sym } @{ $S{symbols} };
    my ($qty, $notional) = (_num($b->{qty}), _num($b->{notional}));
    return _err(422, 40010001, 'qty or notional is required')
        if !defined $qty && !defined $notional;
    return _err(422, 40010001, 'only one of qty or notional can be specified')
        if defined $qty && defined $notional;
    return _err(422, 40010001, 'qty must be > 0')
        if defined $qty && $qty <= 0;
    return _err(422, 40010001, 'notional must be > 0')
        if defined $notional && $notional <= 0;
    my $side = $b->{side} // '';
    return _err(422, 40010001, 'invalid side') unless $side =~ /^(buy|sell)$/;
    my $type = $b->{type} // '';
    return _err(422, 40010001, 'invalid order type')
        unless $type =~ /^(market|limit|stop|stop_limit)$/;
    my $tif = $b->{time_in_force} // '';
    return _err(422, 40010001, 'invalid time_in_force')
        unless $tif =~ /^(day|gtc|opg|cls|ioc|fok)$/;
    my ($limit, $stop) = (_num($b->{limit_price}), _num($b->{stop_price}));
    return _err(422, 40010001, 'limit_price is required')
        if $type =~ /limit/ && !defined $limit;
    return _err(422, 40010001, 'stop_price is required')
        if $type =~ /stop/ && !defined $stop;
    return _err(422, 40010001, 'notional only for market day orders')
        if defined $notional && ($type ne 'market' || $tif ne 'day');
    my $cid = $b->{client_order_id} // _uuid();
    return _err(422, 40010001, 'client_order_id must be no more than 48 characters')
        if length $cid > 48;
    return _err(422, 40010001, 'client_order_id must be unique')
        if grep { $_->{client_order_id} eq $cid } @{ $S{orders} };

    my $price = _price($sym);
    if ($side eq 'buy') {
        my $cost = defined $notional ? $notional
                 : $qty * (defined $limit ? $limit : $price);
        my $bp = _buying_power();
        return _err(403, 40310000, 'insufficient buying power',
                    buying_power => _fmt($bp), cost_basis => _fmt($cost))
            if $cost > $bp;
    } elsif (!$S{shorting}) {
        my $have = _held_available($sym);
        my $want = defined $qty ? $qty : $notional / $price;
        return _err(403, 40310000,
                    sprintf('insufficient qty available for order '
                            . '(requested: %s, available: %s)',
                            _fmt($want), _fmt($have)))
            if $want > $have;
    }

    my $now = _now();
    my $o = {
        id => _uuid(), client_order_id => $cid,
        created_at => $now, updated_at => $now, submitted_at => $now,
        filled_at => undef, expired_at => undef, canceled_at => undef,
        failed_at => undef, replaced_at => undef, replaced_by => undef,
        replaces => undef, asset_id => 'b0b6dd9d-8b9b-48a9-ba46-b9d54906e415',
        symbol => $sym, asset_class => 'us_equity',
        notional => $notional, qty => $qty,
        filled_qty => Math::BigFloat->new(0), filled_avg_price => undef,
        order_class => '', order_type => $type, type => $type, side => $side,
        time_in_force => $tif, limit_price => $limit, stop_price => $stop,
        status => 'accepted', extended_hours => JSON::PP::false,
        legs => undef, trail_percent => undef, trail_price => undef,
        hwm => undef,
    };
    push @{ $S{orders} }, $o;
    my $shown = _show($o);
    # Alpaca answers at once and works the order afterwards
    _later($S{fill_delay_ms}, sub { _work($o) });
    return _ok(200, $shown);
}

# what happens after the answer: routed, then filled if marketable
sub _work {
    my ($o) = @_;
    return unless $OPEN{ $o->{status} };
    $o->{status} = 'new';
    $o->{updated_at} = _now();
    return if $S{fill} ne 'immediate';
    _match($o, _price($o->{symbol}));
}

sub _match {
    my ($o, $price) = @_;
    return unless $OPEN{ $o->{status} } && $o->{status} ne 'accepted'
                  && $o->{status} ne 'pending_cancel';
    my $buy = $o->{side} eq 'buy';
    if ($o->{type} =~ /stop/ && !$o->{triggered}) {
        return unless $buy ? $price >= $o->{stop_price}
                           : $price <= $o->{stop_price};
        $o->{triggered} = 1;
    }
    my $ok = $o->{type} =~ /limit/
        ? ($buy ? $price <= $o->{limit_price} : $price >= $o->{limit_price})
        : 1;
    if (!$ok) {
        if ($o->{time_in_force} =~ /^(ioc|fok)$/) {
            $o->{status} = 'canceled';
            $o->{canceled_at} = $o->{updated_at} = _now();
        }
        return;
    }
    my $rest = _remaining($o, $price);
    _execute($o, $rest, $price) if $rest > 0;
}

sub _remaining {
    my ($o, $price) = @_;
    if (defined $o->{qty}) {
        return $o->{qty} - $o->{filled_qty};
    }
    # notional: fractional shares to 9 places, never above the notional
    my $paid = _paid($o);
    my $q = ($o->{notional} - $paid) / $price;
    return $q->bfround(-9, 'trunc');
}

sub _paid {
    my ($o) = @_;
    return Math::BigFloat->new(0) unless $o->{filled_avg_price};
    return $o->{filled_qty} * $o->{filled_avg_price};
}

sub _execute {
    my ($o, $q, $price) = @_;
    my $cost = $q * $price;
    my $paid = _paid($o) + $cost;
    $o->{filled_qty} = $o->{filled_qty} + $q;
    $o->{filled_avg_price} = _div($paid, $o->{filled_qty});
    my $done = defined $o->{qty} ? $o->{filled_qty} >= $o->{qty}
             : _remaining($o, $price) <= 0;
    $o->{status} = $done ? 'filled' : 'partially_filled';
    $o->{updated_at} = _now();
    $o->{filled_at} = $o->{updated_at} if $done;
    my $pos = $S{positions}{ $o->{symbol} } //=
        { qty => Math::BigFloat->new(0), cost => Math::BigFloat->new(0) };
    if ($o->{side} eq 'buy') {
        $S{cash} = $S{cash} - $cost;
        $pos->{qty} = $pos->{qty} + $q;
        $pos->{cost} = $pos->{cost} + $cost;
    } else {
        $S{cash} = $S{cash} + $cost;
        my $avg = $pos->{qty} != 0 ? _div($pos->{cost}, $pos->{qty}) : $price;
        $pos->{qty} = $pos->{qty} - $q;
        $pos->{cost} = $pos->{cost} - $avg * $q;
    }
    delete $S{positions}{ $o->{symbol} } if $pos->{qty} == 0;
}

sub _cancel {
    my ($o) = @_;
    return _err(422, 42210000, 'order is not cancelable')
        unless $OPEN{ $o->{status} } && $o->{status} ne 'pending_cancel';
    $o->{updated_at} = _now();
    if ($S{cancel} eq 'pending') {
        $o->{status} = 'pending_cancel';
        _later(200, sub {
            $o->{status} = 'canceled';
            $o->{canceled_at} = $o->{updated_at} = _now();
        });
    } else {
        $o->{status} = 'canceled';
        $o->{canceled_at} = $o->{updated_at};
    }
    return { status => 204 };
}

sub _list {
    my ($a) = @_;
    my $status = $a->{status} // 'open';
    return _err(422, 40010001, 'invalid status')
        unless $status =~ /^(open|closed|all)$/;
    my $limit = $a->{limit} // 50;
    return _err(422, 40010001, 'invalid limit')
        unless $limit =~ /^\d+$/ && $limit >= 1 && $limit <= 500;
    my @o = grep {
        $status eq 'all' || ($status eq 'open' ? $OPEN{ $_->{status} }
                                               : !$OPEN{ $_->{status} })
    } @{ $S{orders} };
    for my $k (qw(after until)) {
        next unless defined $a->{$k} && length $a->{$k};
        my $t = _epoch($a->{$k});
        return _err(422, 40010001, "invalid $k") unless defined $t;
        @o = grep { my $s = _epoch($_->{submitted_at});
                    $k eq 'after' ? $s > $t : $s < $t } @o;
    }
    if (($a->{symbols} // '') ne '') {
        my %want = map { $_ => 1 } split /,/, $a->{symbols};
        @o = grep { $want{ $_->{symbol} } } @o;
    }
    @o = reverse @o unless ($a->{direction} // 'desc') eq 'asc';
    splice @o, $limit if @o > $limit;
    return _ok(200, [ map { _show($_) } @o ]);
}

sub _buying_power {
    my $bp = $S{cash} + 0;
    for my $o (@{ $S{orders} }) {
        next unless $OPEN{ $o->{status} } && $o->{side} eq 'buy';
        my $price = defined $o->{limit_price} ? $o->{limit_price}
                                              : _price($o->{symbol});
        $bp -= defined $o->{qty} ? ($o->{qty} - $o->{filled_qty}) * $price
                                 : $o->{notional} - _paid($o);
    }
    return $bp;
}

sub _held_available {
    my ($sym) = @_;
    my $pos = $S{positions}{$sym} or return Math::BigFloat->new(0);
    my $q = $pos->{qty} + 0;
    for my $o (@{ $S{orders} }) {
        next unless $OPEN{ $o->{status} } && $o->{side} eq 'sell'
                    && $o->{symbol} eq $sym && defined $o->{qty};
        $q -= $o->{qty} - $o->{filled_qty};
    }
    return $q;
}

sub _show {
    my ($o) = @_;
    my %v = %$o;
    delete $v{triggered};
    for (qw(qty notional filled_qty filled_avg_price limit_price stop_price)) {
        $v{$_} = defined $v{$_} ? _fmt($v{$_}) : undef;
    }
    return \%v;
}

sub _show_position {
    my ($sym) = @_;
    my $p = $S{positions}{$sym};
    my $price = _price($sym);
    my $qty = $p->{qty};
    my $mv = $qty * $price;
    my $avg = _div($p->{cost}, $qty);
    my $avail = _held_available($sym);
    return {
        asset_id => 'b0b6dd9d-8b9b-48a9-ba46-b9d54906e415', symbol => $sym,
        exchange => 'NASDAQ', asset_class => 'us_equity',
        avg_entry_price => _fmt($avg), qty => _fmt($qty),
        qty_available => _fmt($avail), side => $qty < 0 ? 'short' : 'long',
        market_value => _fmt($mv), cost_basis => _fmt($p->{cost}),
        unrealized_pl => _fmt($mv - $p->{cost}),
        unrealized_plpc => $p->{cost} != 0
            ? _fmt(_div($mv - $p->{cost}, $p->{cost})) : '0',
        current_price => _fmt($price), lastday_price => _fmt($price),
        change_today => '0',
    };
}

sub _show_account {
    my $long = Math::BigFloat->new(0);
    $long += $S{positions}{$_}{qty} * _price($_) for keys %{ $S{positions} };
    my $equity = $S{cash} + $long;
    return {
        id => '1d9eed04-be39-4e01-9b84-a48ac5bbafcf',
        account_number => 'PA3FAKE00001', status => 'ACTIVE',
        crypto_status => 'ACTIVE', currency => 'USD',
        buying_power => _fmt(_buying_power()),
        regt_buying_power => _fmt(_buying_power()),
        daytrading_buying_power => '0',
        non_marginable_buying_power => _fmt(_buying_power()),
        cash => _fmt($S{cash}), accrued_fees => '0',
        portfolio_value => _fmt($equity), equity => _fmt($equity),
        last_equity => _fmt($equity), long_market_value => _fmt($long),
        short_market_value => '0', multiplier => '1',
        pattern_day_trader => JSON::PP::false,
        trading_blocked => JSON::PP::false,
        transfers_blocked => JSON::PP::false,
        account_blocked => JSON::PP::false,
        trade_suspended_by_user => JSON::PP::false,
        shorting_enabled => $S{shorting} ? JSON::PP::true : JSON::PP::false,
        daytrade_count => 0, created_at => '2024-01-02T15:04:05.123456Z',
    };
}

# --- control ---------------------------------------------------------------

sub _control_request {
    my ($req) = @_;
    my $what = substr($req->{path}, length $CONTROL);
    my $d = length $req->{body} ? eval { $JSON->decode($req->{body}) } : {};
    my $ok = _ok(200, { ok => JSON::PP::true });
    $d = {} unless ref $d eq 'HASH';
    if ($what eq 'set_price') {
        $S{prices}{ $d->{symbol} } = Math::BigFloat->new($d->{price});
        _match($_, $S{prices}{ $d->{symbol} })
            for grep { $_->{symbol} eq $d->{symbol} } @{ $S{orders} };
        return $ok;
    }
    if ($what eq 'set') {
        for my $k (keys %$d) {
            $S{$k} = $k =~ /^(cash|price)$/ ? Math::BigFloat->new($d->{$k})
                                             : $d->{$k};
        }
        return $ok;
    }
    if ($what eq 'fill') {
        my ($o) = grep { $_->{id} eq ($d->{id} // '') } @{ $S{orders} };
        return _err(404, 40410000, 'order not found') unless $o;
        return _err(422, 42210000, 'order is not open') unless $OPEN{ $o->{status} };
        _execute($o, Math::BigFloat->new($d->{qty}),
                 Math::BigFloat->new($d->{price}));
        return _ok(200, _show($o));
    }
    if ($what eq 'broker_cancel' || $what eq 'expire_day') {
        for my $o (@{ $S{orders} }) {
            next unless $OPEN{ $o->{status} };
            next if $what eq 'broker_cancel' && $o->{id} ne ($d->{id} // '');
            next if $what eq 'expire_day' && $o->{time_in_force} ne 'day';
            my $st = $what eq 'broker_cancel' ? 'canceled' : 'expired';
            $o->{status} = $st;
            $o->{updated_at} = $o->{"${st}_at"} = _now();
        }
        return $ok;
    }
    if ($what eq 'fail') {
        push @{ $S{rules} }, { method => $d->{method} // '*',
                               path => $d->{path} // '.',
                               responses => $d->{responses} // [] };
        return $ok;
    }
    if ($what eq 'clear_failures') { $S{rules} = []; return $ok }
    if ($what eq 'slow')  { $S{delay_ms} = $d->{ms} // 0; return $ok }
    if ($what eq 'stall') { $S{stall} = $d->{on} ? 1 : 0; return $ok }
    if ($what eq 'orders') {
        return _ok(200, [ map { _show($_) } @{ $S{orders} } ]);
    }
    if ($what eq 'positions') {
        return _ok(200, [ map { _show_position($_) } sort keys %{ $S{positions} } ]);
    }
    if ($what eq 'account')  { return _ok(200, _show_account()) }
    if ($what eq 'requests') { return _ok(200, \@RECORDED) }
    if ($what eq 'reset_requests') { @RECORDED = (); return $ok }
    if ($what eq 'state') { return _ok(200, _freeze()) }
    return _err(400, 0, 'bad control request');
}

# the state as plain data (restart keeps it), and back
sub _freeze {
    my %st = %S;
    $st{cash} = _fmt($S{cash});
    $st{price} = _fmt($S{price});
    $st{prices} = { map { $_ => _fmt($S{prices}{$_}) } keys %{ $S{prices} } };
    $st{positions} = { map { $_ => { qty => _fmt($S{positions}{$_}{qty}),
                                     cost => _fmt($S{positions}{$_}{cost}) } }
                       keys %{ $S{positions} } };
    $st{orders} = [ map { my $v = _show($_);
                          $v->{triggered} = $_->{triggered} ? 1 : 0; $v }
                    @{ $S{orders} } ];
    $st{stall} = 0;
    return \%st;
}

sub _thaw {
    $S{cash} = Math::BigFloat->new($S{cash});
    $S{price} = Math::BigFloat->new($S{price});
    $S{prices}{$_} = Math::BigFloat->new($S{prices}{$_}) for keys %{ $S{prices} };
    for my $p (values %{ $S{positions} }) {
        $p->{$_} = Math::BigFloat->new($p->{$_}) for qw(qty cost);
    }
    for my $o (@{ $S{orders} }) {
        for (qw(qty notional filled_qty filled_avg_price limit_price stop_price)) {
            $o->{$_} = Math::BigFloat->new($o->{$_}) if defined $o->{$_};
        }
    }
    $S{rules} //= [];
}

# --- helpers -----------------------------------------------------------------

sub _price {
    my ($sym) = @_;
    return $S{prices}{$sym} // $S{price};
}

# a decimal from a JSON string or number; undef when absent or null
sub _num {
    my ($v) = @_;
    return undef unless defined $v;
    return Math::BigFloat->new(-1) unless "$v" =~ /^-?\d+(\.\d+)?$/;
    return Math::BigFloat->new("$v");
}

sub _div {
    my ($a, $b) = @_;
    # precision (places), never accuracy too: mixing them gives NaN
    # (and in scalar context: in list context bdiv divides integers)
    my $q = Math::BigFloat->new($a)->bdiv($b, undef, -12);
    return $q;
}

sub _fmt {
    my ($v) = @_;
    my $s = Math::BigFloat->new($v)->bstr;
    if ($s =~ /\./) { $s =~ s/0+$//; $s =~ s/\.$// }
    $s = '0' if $s eq '-0';
    return "$s";
}

sub _now {
    my $t = time;
    my $s = int $t;
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime $s)
        . sprintf('.%09dZ', int(($t - $s) * 1e9));
}

# RFC 3339 to seconds (a float: nanoseconds are not needed here)
sub _epoch {
    my ($s) = @_;
    my ($y, $mo, $d, $h, $mi, $sec, $frac, $z) = $s =~
        /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/
        or return undef;
    require Time::Local;
    my $t = Time::Local::timegm($sec, $mi, $h, $d, $mo - 1, $y) + ($frac // 0);
    if ($z ne 'Z') {
        my ($sign, $oh, $om) = $z =~ /^([+-])(\d\d):(\d\d)$/;
        $t -= ($sign eq '-' ? -1 : 1) * ($oh * 3600 + $om * 60);
    }
    return $t;
}

sub _uuid {
    my @h = map { sprintf '%04x', int rand 65536 } 1 .. 8;
    return "$h[0]$h[1]-$h[2]-4" . substr($h[3], 1) . '-a' . substr($h[4], 1)
        . "-$h[5]$h[6]$h[7]";
}

1;

__END__

=head1 NAME

Kx::FakeAlpaca - a fake Alpaca Trading API v2 (paper) for tests

=head1 SYNOPSIS

    my $fa = Kx::FakeAlpaca->start(cash => '100000', price => '100',
                                   prices => { AAPL => '187.5' });
    ... nginx: kx_trading_broker alpaca url=http://127.0.0.1:<port> ...
    ... env APCA_API_KEY_ID = $fa->key, APCA_API_SECRET_KEY = $fa->secret
    my $o = $fa->order_by_client_id($our_order_id);
    $fa->fail(POST => '^/v2/orders$',
              { status => 403, json => { code => 40310000,
                                         message => 'insufficient buying power' } });
    $fa->slow(3000);  $fa->stall(1);  $fa->stop;  $fa->restart;

=head1 DESCRIPTION

A forked child on 127.0.0.1 (a free port unless port => is given) serving:

  POST   /v2/orders                       201-style 200 with the order object
  GET    /v2/orders?status=open|closed|all&limit=&after=&until=&direction=&symbols=
  GET    /v2/orders/{id}
  GET    /v2/orders:by_client_order_id?client_order_id=
  DELETE /v2/orders/{id}                  204; 422 when not cancelable
  GET    /v2/positions
  GET    /v2/account

Every API request must carry APCA-API-KEY-ID and APCA-API-SECRET-KEY equal
to key and secret (else 401 {"code":40110000,...}). Errors have Alpaca's
body {"code":...,"message":...}: 403 40310000 "insufficient buying power"
(buys cost more than cash less open buy orders) or "insufficient qty
available for order ..." (sells beyond the position, unless shorting),
422 40010001 for invalid input and a reused client_order_id, 422 42210000
"order is not cancelable", 404 40410000.

The answer to POST shows the order "accepted"; fill_delay_ms later it is
"new" and, with fill => 'immediate' (the default), market orders and
marketable limit orders fill at the symbol's price (prices, else price), so
a client sees the fill only by asking again. fill => 'manual' leaves them
working: fill($id, $qty, $price) executes (partially), set_price($sym, $p)
moves the market and fills resting limit/stop orders that cross it,
broker_cancel($id) and expire_day end orders. cancel => 'pending' makes a
DELETE leave the order pending_cancel for 200 ms.

Failures: fail($method, $path_regex, [$resp, ...]) answers the next matching
requests with the given responses (status, json|body, headers, delay_ms,
stall, close; apply => 1 does the work first, as when an answer is lost);
slow($ms) delays every API answer; stall(1) never answers; kill_stop /
kill_cont hang the process; stop / restart take it down and back with its
state kept.

Inspection: orders, order($id), order_by_client_id($cid), positions,
account (the objects as the API shows them), requests($method, $path_regex)
(the last 500 API requests: method, path, query, headers with lower-case
names, body), reset_requests.

=cut
