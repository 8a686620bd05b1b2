// Stand-ins for the outside world the account flows talk to, on loopback: an SMTP server (what
// workerd delivers to over the TCP socket API) and an HTTP server playing the mail API (Resend
// shape, what Spin delivers to) and the SMS provider (Twilio shape). `cargo xtask test` points
// edgewrite at EDGEWRITE_TEST_SMTP_PORT and EDGEWRITE_TEST_HTTP_SINK_PORT; a test file starts the
// sinks, and messages from either path land in one inbox.
import net from 'node:net';
import http from 'node:http';

export const SMTP_USER = 'edgewrite';
export const SMTP_PASSWORD = 'sink-password';
export const SMS_ACCOUNT = 'ACtest';
export const SMS_TOKEN = 'twilio-token';
export const MAIL_API_KEY = 're_test_key';

/** RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`) back to text. */
function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*/g, (_, _charset, enc, data) => {
    if (enc.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString('utf8');
    return Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  });
}

function parseHeaders(block) {
  const headers = {};
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

function decodeBody(headers, body) {
  const enc = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    return Buffer.from(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  }
  return body;
}

/** A MIME message (as SMTP DATA carries it) to {headers, subject, text, html}. */
export function parseMime(raw) {
  const split = raw.indexOf('\r\n\r\n');
  const headers = parseHeaders(raw.slice(0, split));
  const body = raw.slice(split + 4);
  const out = { headers, subject: decodeWords(headers.subject ?? ''), text: '', html: '', raw };
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  const parts = boundary
    ? body.split(`--${boundary}`).slice(1, -1).map((p) => p.replace(/^\r\n/, ''))
    : [raw.slice(0, split) + '\r\n\r\n' + body];
  for (const part of parts) {
    const i = part.indexOf('\r\n\r\n');
    const h = parseHeaders(part.slice(0, i));
    const content = decodeBody(h, part.slice(i + 4).replace(/\r\n$/, ''));
    if ((h['content-type'] ?? '').startsWith('text/html')) out.html = content;
    else out.text = content;
  }
  return out;
}

/** One inbox for mail (SMTP or API) and SMS, with waiting reads. */
class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    this.items.push(item);
    for (const w of [...this.waiters]) {
      const found = this.items.find(w.match);
      if (found) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(found);
      }
    }
  }

  /** The first item (oldest first) matching `match`, waiting up to `ms` for it. */
  next(match, ms = 10_000) {
    const found = this.items.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { match, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`nothing arrived in ${ms} ms`));
      }, ms);
      this.waiters.push(w);
    });
  }
}

/** An SMTP server: EHLO, AUTH PLAIN/LOGIN (checked), MAIL, RCPT, DATA, QUIT. */
function smtpServer(inbox, log) {
  return net.createServer((socket) => {
    socket.setEncoding('latin1');
    let buffer = '';
    let state = 'command';
    let mail = { from: '', to: [], authed: false };
    let data = '';
    const reply = (line) => socket.write(`${line}\r\n`);
    reply('220 sink.edgewrite.test ESMTP');
    socket.on('data', (chunk) => {
      buffer += chunk;
      for (;;) {
        if (state === 'data') {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          data = buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 5);
          const raw = Buffer.from(data.replace(/^\.\./gm, '.'), 'latin1').toString('utf8');
          inbox.push({ kind: 'email', via: 'smtp', from: mail.from, to: mail.to, authed: mail.authed, ...parseMime(raw) });
          log.push({ smtp: 'DATA', bytes: raw.length });
          reply('250 2.0.0 queued');
          state = 'command';
          mail = { from: '', to: [], authed: mail.authed };
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        log.push({ smtp: line.startsWith('AUTH') ? 'AUTH …' : line });
        if (state === 'login-user') {
          mail.login = Buffer.from(line, 'base64').toString();
          state = 'login-pass';
          reply('334 UGFzc3dvcmQ6');
          continue;
        }
        if (state === 'login-pass') {
          mail.authed = mail.login === SMTP_USER && Buffer.from(line, 'base64').toString() === SMTP_PASSWORD;
          state = 'command';
          reply(mail.authed ? '235 2.7.0 ok' : '535 5.7.8 bad credentials');
          continue;
        }
        const [verb, ...rest] = line.split(' ');
        switch (verb.toUpperCase()) {
          case 'EHLO':
            socket.write('250-sink.edgewrite.test\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8\r\n');
            break;
          case 'HELO': reply('250 sink.edgewrite.test'); break;
          case 'AUTH': {
            const [mech, initial] = rest;
            if (mech.toUpperCase() === 'PLAIN') {
              const [, user, pass] = Buffer.from(initial ?? '', 'base64').toString().split('\0');
              mail.authed = user === SMTP_USER && pass === SMTP_PASSWORD;
              reply(mail.authed ? '235 2.7.0 ok' : '535 5.7.8 bad credentials');
            } else {
              state = 'login-user';
              reply('334 VXNlcm5hbWU6');
            }
            break;
          }
          case 'MAIL': mail.from = /<([^>]*)>/.exec(line)?.[1] ?? ''; reply('250 2.1.0 ok'); break;
          case 'RCPT': mail.to.push(/<([^>]*)>/.exec(line)?.[1] ?? ''); reply('250 2.1.5 ok'); break;
          case 'DATA': state = 'data'; reply('354 end with <CRLF>.<CRLF>'); break;
          case 'RSET': mail = { from: '', to: [], authed: mail.authed }; reply('250 ok'); break;
          case 'NOOP': reply('250 ok'); break;
          case 'QUIT': reply('221 bye'); socket.end(); return;
          default: reply('502 5.5.2 unknown command');
        }
      }
    });
    socket.on('error', () => {});
  });
}

/** An HTTP server answering the mail API (`POST /emails`) and the SMS API (`…/Messages.json`). */
function httpServer(inbox, log) {
  return http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      log.push({ http: `${req.method} ${req.url}` });
      const auth = req.headers.authorization ?? '';
      if (req.method === 'POST' && req.url === '/emails') {
        if (auth !== `Bearer ${MAIL_API_KEY}`) { res.writeHead(401).end('{"message":"bad key"}'); return; }
        const m = JSON.parse(body);
        inbox.push({ kind: 'email', via: 'api', from: m.from, to: m.to, subject: m.subject, text: m.text, html: m.html, headers: {} });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"sink"}');
        return;
      }
      const sms = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url);
      if (req.method === 'POST' && sms) {
        const expected = `Basic ${Buffer.from(`${SMS_ACCOUNT}:${SMS_TOKEN}`).toString('base64')}`;
        if (sms[1] !== SMS_ACCOUNT || auth !== expected) { res.writeHead(401).end('{"message":"bad auth"}'); return; }
        const form = new URLSearchParams(body);
        inbox.push({ kind: 'sms', to: form.get('To'), from: form.get('From'), body: form.get('Body') });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"sid":"SMsink"}');
        return;
      }
      res.writeHead(404).end();
    });
  });
}

/** Whether `message` went to `address` (recipients may be `Name <address>`). */
const addressedTo = (message, address) => message.to.some((t) => t === address || t.endsWith(`<${address}>`));

const listen = (server, port) => new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});

/**
 * Starts both sinks on the ports `cargo xtask test` gave edgewrite. Returns the inbox helpers
 * and `close()` (call it in `after`).
 */
export async function startSinks() {
  const smtpPort = Number(process.env.EDGEWRITE_TEST_SMTP_PORT);
  const httpPort = Number(process.env.EDGEWRITE_TEST_HTTP_SINK_PORT);
  if (!smtpPort || !httpPort) throw new Error('EDGEWRITE_TEST_SMTP_PORT and EDGEWRITE_TEST_HTTP_SINK_PORT are not set');
  const inbox = new Inbox();
  const log = [];
  const smtp = smtpServer(inbox, log);
  const api = httpServer(inbox, log);
  await listen(smtp, smtpPort);
  await listen(api, httpPort);
  return {
    log,
    /** The next email to `address`. */
    email: (address, ms) => inbox.next((m) => m.kind === 'email' && addressedTo(m, address) && !m.taken && (m.taken = true), ms),
    /** The next SMS to `number`. */
    sms: (number, ms) => inbox.next((m) => m.kind === 'sms' && m.to === number && !m.taken && (m.taken = true), ms),
    /** Everything received so far (for "nothing was sent" checks). */
    received: () => inbox.items,
    close: () => Promise.all([new Promise((r) => smtp.close(r)), new Promise((r) => api.close(r))]),
  };
}

/** The first `?…` URL in `text`, parsed. */
export function linkIn(text) {
  const m = /(https?:\/\/[^\s"<>]+)/.exec(text);
  if (!m) throw new Error(`no link in: ${text}`);
  return new URL(m[1].replace(/&amp;/g, '&'));
}

/** The first 6-digit code in `text`. */
export function codeIn(text) {
  const m = /\b(\d{6})\b/.exec(text);
  if (!m) throw new Error(`no code in: ${text}`);
  return m[1];
}
