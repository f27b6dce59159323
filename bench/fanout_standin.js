#!/usr/bin/env node
// A stand-in for the notify service, for checking bench/fanout's own
// clients only (bench/fanout --standin): a WebSocket server with no
// dependencies that follows kx:quote:* in Redis (PSUBSCRIBE) and sends
// each quote, untouched, to the sockets subscribed to its symbol.  No
// JWT check, no slow-consumer rules: it is not the product.
//
//   node bench/fanout_standin.js LISTEN_PORT REDIS_PORT

'use strict';

const crypto = require('crypto');
const http = require('http');
const net = require('net');

const port = Number(process.argv[2]);
const redisPort = Number(process.argv[3]);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const subs = new Map();           // symbol -> Set of sockets

function frame(op, payload) {
    const n = payload.length;
    let head;
    if (n < 126) {
        head = Buffer.from([0x80 | op, n]);
    } else if (n < 65536) {
        head = Buffer.from([0x80 | op, 126, n >> 8, n & 255]);
    } else {
        head = Buffer.alloc(10);
        head[0] = 0x80 | op;
        head[1] = 127;
        head.writeBigUInt64BE(BigInt(n), 2);
    }
    return Buffer.concat([head, payload]);
}

function onClientMessage(sock, text) {
    let m;
    try { m = JSON.parse(text); } catch (e) { return; }
    if (!m || !Array.isArray(m.symbols)) return;
    for (const s of m.symbols) {
        if (m.action === 'subscribe') {
            if (!subs.has(s)) subs.set(s, new Set());
            subs.get(s).add(sock);
            sock.kxSyms.add(s);
        } else if (m.action === 'unsubscribe' && subs.has(s)) {
            subs.get(s).delete(sock);
            sock.kxSyms.delete(s);
        }
    }
    sock.write(frame(1, Buffer.from(JSON.stringify(
        { type: 'subscribed', symbols: [...sock.kxSyms] }))));
}

// client frames: masked, possibly several per chunk or split across chunks
function onClientData(sock, chunk) {
    let buf = sock.kxIn.length ? Buffer.concat([sock.kxIn, chunk]) : chunk;
    for (;;) {
        if (buf.length < 2) break;
        const op = buf[0] & 15;
        let len = buf[1] & 127, off = 2;
        if (len === 126) {
            if (buf.length < 4) break;
            len = buf.readUInt16BE(2); off = 4;
        } else if (len === 127) {
            if (buf.length < 10) break;
            len = Number(buf.readBigUInt64BE(2)); off = 10;
        }
        if (!(buf[1] & 128)) { sock.destroy(); return; }
        if (buf.length < off + 4 + len) break;
        const mask = buf.subarray(off, off + 4);
        const pl = Buffer.from(buf.subarray(off + 4, off + 4 + len));
        for (let i = 0; i < len; i++) pl[i] ^= mask[i & 3];
        buf = buf.subarray(off + 4 + len);
        if (op === 1) onClientMessage(sock, pl.toString('utf8'));
        else if (op === 9) sock.write(frame(10, pl));
        else if (op === 8) { sock.end(frame(8, pl.subarray(0, 2))); return; }
    }
    sock.kxIn = buf;
}

const server = http.createServer((req, res) => {
    res.writeHead(426, { 'Content-Type': 'application/json' });
    res.end('{"error":{"code":"upgrade_required","message":"WebSocket"}}');
});

server.on('upgrade', (req, sock, head) => {
    const key = req.headers['sec-websocket-key'];
    const accept = crypto.createHash('sha1').update(key + GUID)
        .digest('base64');
    sock.setNoDelay(true);
    sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
               + 'Connection: Upgrade\r\nSec-WebSocket-Accept: ' + accept
               + '\r\n\r\n');
    sock.kxIn = Buffer.alloc(0);
    sock.kxSyms = new Set();
    sock.on('data', (d) => onClientData(sock, d));
    sock.on('error', () => {});
    sock.on('close', () => {
        for (const s of sock.kxSyms) subs.get(s).delete(sock);
    });
    if (head && head.length) onClientData(sock, head);
});

// Redis: RESP arrays of bulk strings (pmessage pattern channel message)
const redis = net.connect(redisPort, '127.0.0.1');
let rbuf = Buffer.alloc(0);

function parseArray(buf, pos) {
    // returns [items, next] or null when incomplete
    let nl = buf.indexOf('\r\n', pos);
    if (nl < 0) return null;
    if (buf[pos] !== 0x2a) throw new Error('redis: unexpected reply');
    const n = Number(buf.toString('latin1', pos + 1, nl));
    let p = nl + 2;
    const items = [];
    for (let i = 0; i < n; i++) {
        nl = buf.indexOf('\r\n', p);
        if (nl < 0) return null;
        if (buf[p] === 0x3a) {                  // integer
            items.push(Number(buf.toString('latin1', p + 1, nl)));
            p = nl + 2;
            continue;
        }
        const len = Number(buf.toString('latin1', p + 1, nl));
        if (buf.length < nl + 2 + len + 2) return null;
        items.push(buf.subarray(nl + 2, nl + 2 + len));
        p = nl + 2 + len + 2;
    }
    return [items, p];
}

redis.on('data', (d) => {
    rbuf = rbuf.length ? Buffer.concat([rbuf, d]) : d;
    let pos = 0;
    for (;;) {
        const r = parseArray(rbuf, pos);
        if (!r) break;
        const [items, next] = r;
        pos = next;
        if (items.length === 4 && items[0].toString() === 'pmessage') {
            const sym = items[2].toString().slice('kx:quote:'.length);
            const set = subs.get(sym);
            if (!set || set.size === 0) continue;
            const f = frame(1, items[3]);
            for (const s of set) s.write(f);
        }
    }
    rbuf = rbuf.subarray(pos);
});

redis.on('connect', () => {
    redis.write('*2\r\n$10\r\nPSUBSCRIBE\r\n$10\r\nkx:quote:*\r\n');
    server.listen(port, '127.0.0.1');
});

redis.on('error', (e) => { console.error('standin: redis:', e.message); process.exit(1); });
process.on('SIGTERM', () => process.exit(0));
