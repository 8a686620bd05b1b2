// Loopback stand-ins for the messaging providers edgewrite delivers to (Mailgun, SendGrid, Resend,
// Postmark, SES, Twilio, Vonage, Textmagic, Telesign, MSG91, FCM, APNs), all on ONE HTTP server:
// `EDGEWRITE_MESSAGING_BASE_URLS` points every provider kind (and `fcm-token`) at `origin`, and
// the providers' paths are distinct. The wire protocols are the shared spec the Rust senders
// follow; each stand-in checks a request the way the real provider would (auth header, signed
// JWT or SigV4 signature, path, content type, body shape, required fields) and answers in that
// provider's own success and error shapes, so edgewrite's response handling is exercised too.
//
// Well-formed, authenticated requests land in `.requests` (or `.failures` when a `failFor` rule
// made them fail); everything refused lands in `.rejected`, so a test can assert it stayed empty.
// Credentials are generated per start (fresh keys included), so no test can depend on constants.
import http from 'node:http';
import crypto from 'node:crypto';
import { parseMime } from './sinks.mjs';

// ---------------------------------------------------------------------------------------------
// Small helpers

const rand = (bytes) => crypto.randomBytes(bytes).toString('hex');
const alnum = (n) => Array.from(crypto.randomBytes(n), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[b % 36]).join('');
const sha256hex = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
const basic = (user, pass) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
/** Constant-time string comparison, so a stand-in never hints which byte was wrong. */
const same = (a, b) => typeof a === 'string' && typeof b === 'string' && a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Answers as `{status, headers, body}`: what a handler returns and `send` writes. */
const json = (status, body, headers = {}) => ({ status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) });
const empty = (status, headers = {}) => ({ status, headers, body: '' });
const plain = (status, body) => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body });

/** Thrown by a handler to refuse a request: `answer` goes back, `reason` into `.rejected`. */
class Refusal extends Error {
  constructor(answer, reason) {
    super(reason);
    this.answer = answer;
    this.reason = reason;
  }
}
const refuse = (answer, reason) => { throw new Refusal(answer, reason); };

/** The bare address of `Name <a@b>` or `a@b`. */
const bare = (s) => {
  const m = /<([^>]*)>\s*$/.exec(String(s ?? ''));
  return (m ? m[1] : String(s ?? '')).trim();
};
/** A comma-joined string or an array as a list of non-empty strings. */
const list = (v) => (v == null ? [] : Array.isArray(v) ? v : String(v).split(',')).map((s) => String(s).trim()).filter(Boolean);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isBase64 = (s) => typeof s === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
/** decodeURIComponent that leaves a malformed escape as it is instead of throwing. */
const decode = (s) => {
  try { return decodeURIComponent(s); } catch { return s; }
};
const mediaType = (headers) => String(headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

/** What one recipient is called for matching: digits for SMS, lower-case address for email. */
const KIND = {
  mailgun: 'email', sendgrid: 'email', resend: 'email', postmark: 'email', ses: 'email',
  twilio: 'sms', vonage: 'sms', textmagic: 'sms', telesign: 'sms', msg91: 'sms',
  fcm: 'push', apns: 'push',
};
function recipientKey(provider, to) {
  if (KIND[provider] === 'sms') return String(to ?? '').replace(/\D/g, '');
  if (KIND[provider] === 'email') return bare(to).toLowerCase();
  return String(to ?? '');
}

/** A request body as JSON, or a refusal in the provider's shape. */
function parseJson(ctx, errorAnswer) {
  if (mediaType(ctx.headers) !== 'application/json') refuse(errorAnswer(`content-type ${ctx.headers['content-type'] ?? '(none)'} is not application/json`), 'not application/json');
  try {
    return JSON.parse(ctx.body.toString('utf8'));
  } catch (e) {
    return refuse(errorAnswer(`invalid JSON: ${e.message}`), 'body is not JSON');
  }
}

/**
 * A form body (`application/x-www-form-urlencoded`, or `multipart/form-data` when allowed) as
 * `{get(name), all(name), files}`; null when the content type is neither.
 */
function parseForm(ctx, { multipart = false } = {}) {
  const type = mediaType(ctx.headers);
  if (type === 'application/x-www-form-urlencoded') {
    const p = new URLSearchParams(ctx.body.toString('utf8'));
    return { get: (n) => p.get(n), all: (n) => p.getAll(n), files: [] };
  }
  if (multipart && type === 'multipart/form-data') {
    const boundary = /boundary="?([^";]+)"?/i.exec(ctx.headers['content-type'])?.[1];
    const parts = boundary && parseMultipart(ctx.body, boundary);
    if (!parts) return null;
    const fields = parts.filter((p) => p.filename === undefined);
    const all = (n) => fields.filter((p) => p.name === n).map((p) => p.bytes.toString('utf8'));
    return { get: (n) => all(n)[0] ?? null, all, files: parts.filter((p) => p.filename !== undefined) };
  }
  return null;
}

/** multipart/form-data (RFC 7578) on the raw bytes, so binary file parts survive. */
function parseMultipart(buf, boundary) {
  const delimiter = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  const parts = [];
  let pos = buf.indexOf(delimiter);
  if (pos < 0) return null;
  pos += delimiter.length;
  for (;;) {
    if (buf.subarray(pos, pos + 2).toString() === '--') return parts; // the closing delimiter
    if (buf.subarray(pos, pos + 2).toString() !== '\r\n') return null;
    pos += 2;
    const end = buf.indexOf(next, pos);
    if (end < 0) return null;
    const part = buf.subarray(pos, end);
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) return null;
    const headers = {};
    for (const line of part.subarray(0, split).toString('utf8').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const disposition = headers['content-disposition'] ?? '';
    parts.push({
      name: /(?:^|;)\s*name="([^"]*)"/i.exec(disposition)?.[1],
      filename: /(?:^|;)\s*filename="([^"]*)"/i.exec(disposition)?.[1],
      type: headers['content-type'] ?? 'text/plain',
      bytes: Buffer.from(part.subarray(split + 4)),
    });
    pos = end + next.length;
  }
}

/**
 * A MIME message (SES `Content.Raw.Data`) to {headers, subject, text, html, attachments}:
 * `parseMime` from the SMTP sink reads the headers and single parts; this walks nested
 * multiparts (mixed > alternative > text/html) and keeps attachment bytes as bytes.
 */
function parseMimeDeep(raw) {
  const top = parseMime(raw);
  const out = { headers: top.headers, subject: top.subject, text: null, html: null, attachments: [] };
  const walk = (entity) => {
    const m = parseMime(entity);
    const type = m.headers['content-type'] ?? 'text/plain';
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
    const body = entity.slice(entity.indexOf('\r\n\r\n') + 4);
    if (/^multipart\//i.test(type) && boundary) {
      for (const part of body.split(`--${boundary}`).slice(1, -1)) walk(part.replace(/^\r\n/, ''));
      return;
    }
    const disposition = m.headers['content-disposition'] ?? '';
    const filename = /filename\*?="?([^";]+)"?/i.exec(disposition)?.[1] ?? /name="?([^";]+)"?/i.exec(type)?.[1];
    if (/^attachment/i.test(disposition) || filename) {
      const data = body.replace(/\r\n$/, '');
      const base64 = /base64/i.test(m.headers['content-transfer-encoding'] ?? '');
      out.attachments.push({
        name: filename ?? '',
        type: type.split(';')[0].trim(),
        bytes: base64 ? Buffer.from(data.replace(/\s+/g, ''), 'base64') : Buffer.from(data, 'latin1'),
      });
    } else if (/^text\/html/i.test(type)) out.html = m.html;
    else out.text = m.text;
  };
  walk(raw);
  return out;
}

/** A compact JWS as {header, payload, signingInput, signature}; null when malformed. */
function decodeJwt(token) {
  const parts = String(token ?? '').split('.');
  if (parts.length !== 3) return null;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')),
      payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')),
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Credentials: what the stand-ins accept, in the parameter names of node-appwrite's
// `createXProvider` calls. Fresh per start.

function makeCredentials() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const projectId = `edgewrite-test-${rand(3)}`;
  const serviceAccount = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: rand(20),
    private_key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: `firebase-adminsdk-${rand(3)}@${projectId}.iam.gserviceaccount.com`,
    client_id: String(BigInt(`0x${rand(8)}`)),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    // The real token URI: the spec says senders must NOT use it (the `fcm-token` base is used),
    // so a sender that did would fail to reach the stand-in.
    token_uri: 'https://oauth2.googleapis.com/token',
  };
  return {
    credentials: {
      mailgun: { apiKey: `key-${rand(16)}`, domain: 'mg.edgewrite.test' },
      sendgrid: { apiKey: `SG.${rand(11)}.${rand(21)}` },
      resend: { apiKey: `re_${rand(16)}` },
      postmark: { apiKey: crypto.randomUUID() },
      ses: { accessKey: `AKIA${alnum(16)}`, secretKey: crypto.randomBytes(30).toString('base64'), region: 'us-east-1' },
      twilio: { accountSid: `AC${rand(16)}`, authToken: rand(16) },
      vonage: { apiKey: rand(4), apiSecret: rand(8) },
      textmagic: { username: 'edgewrite', apiKey: rand(15) },
      telesign: { customerId: crypto.randomUUID().toUpperCase(), apiKey: crypto.randomBytes(48).toString('base64') },
      msg91: { authKey: `${rand(12)}T1`, templateId: rand(12), senderId: 'EDGWRT' },
      fcm: { serviceAccountJSON: JSON.stringify(serviceAccount) },
      apns: {
        authKey: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }),
        authKeyId: alnum(10),
        teamId: alnum(10),
        bundleId: 'dev.edgewrite.test',
      },
    },
    rsaPublic: rsa.publicKey,
    ecPublic: ec.publicKey,
    serviceAccount,
  };
}

// ---------------------------------------------------------------------------------------------
// The providers. Each has `route` (a regex over the path of a POST), `handle(ctx, params)`
// returning `{record, ok}` (or `{answer}` for a request that delivers nothing, the FCM token
// endpoint) or throwing a Refusal, and `failure(status, reason)`: its own answer for an injected
// failure.

function makeProviders(state) {
  const { credentials: c, rsaPublic, ecPublic, serviceAccount } = state;
  const now = () => Math.floor(Date.now() / 1000);

  // Email -------------------------------------------------------------------------------------

  const mailgunError = (status, message) => json(status, { message });
  const mailgun = {
    route: /^\/v3\/([^/]+)\/messages$/,
    failure: (status) => mailgunError(status, status === 429 ? 'Too many requests' : status >= 500 ? 'Internal Server Error' : "'to' parameter is not a valid address. please check documentation"),
    handle(ctx, [domain]) {
      // Mailgun answers a bad key with a bare "Forbidden".
      if (!same(ctx.headers.authorization, basic('api', c.mailgun.apiKey))) refuse(plain(401, 'Forbidden'), 'bad Basic api:apiKey');
      if (decode(domain) !== c.mailgun.domain) refuse(mailgunError(404, `Domain not found: ${domain}`), `unknown domain ${domain}`);
      const form = parseForm(ctx, { multipart: true });
      if (!form) refuse(mailgunError(400, 'Content-Type must be multipart/form-data or application/x-www-form-urlencoded'), `content-type ${ctx.headers['content-type']}`);
      for (const f of ['from', 'to', 'subject']) if (form.get(f) == null) refuse(mailgunError(400, `'${f}' parameter is missing`), `no ${f}`);
      if (form.get('text') == null && form.get('html') == null) refuse(mailgunError(400, "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified"), 'no text or html');
      const to = form.all('to').flatMap(list);
      if (to.length !== 1) refuse(mailgunError(400, "'to' parameter is not a valid address"), `${to.length} recipients in one request (the spec sends one request per target)`);
      const unexpected = form.files.filter((f) => f.name !== 'attachment' && f.name !== 'inline');
      if (unexpected.length) refuse(mailgunError(400, `unexpected file parameter ${unexpected[0].name}`), 'file part not named attachment');
      return {
        record: {
          to: bare(to[0]), toName: to[0].includes('<') ? to[0].slice(0, to[0].lastIndexOf('<')).trim().replace(/^"|"$/g, '') : null,
          cc: list(form.get('cc')).map(bare), bcc: list(form.get('bcc')).map(bare),
          from: form.get('from'), fromEmail: bare(form.get('from')), replyTo: form.get('h:Reply-To'),
          subject: form.get('subject'), text: form.get('text'), html: form.get('html'),
          attachments: form.files.filter((f) => f.name === 'attachment').map((f) => ({ name: f.filename, type: f.type, bytes: f.bytes })),
        },
        ok: json(200, { id: `<${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}.${rand(8)}@${c.mailgun.domain}>`, message: 'Queued. Thank you.' }),
      };
    },
  };

  const sendgridError = (status, message, field = null) => json(status, { errors: [{ message, field, help: null }] });
  const sendgrid = {
    route: /^\/v3\/mail\/send$/,
    failure: (status) => sendgridError(status, status === 429 ? 'too many requests' : status >= 500 ? 'internal error' : 'The to email does not contain a valid address.', status < 500 && status !== 429 ? 'personalizations.0.to.0.email' : null),
    handle(ctx) {
      if (!same(ctx.headers.authorization, `Bearer ${c.sendgrid.apiKey}`)) refuse(sendgridError(401, 'The provided authorization grant is invalid, expired, or revoked'), 'bad Bearer apiKey');
      const m = parseJson(ctx, (msg) => sendgridError(400, msg));
      const bad = (msg, field) => refuse(sendgridError(400, msg, field), msg);
      if (!Array.isArray(m.personalizations) || m.personalizations.length === 0) bad('The personalizations field is required and must have at least one personalization.', 'personalizations');
      if (m.personalizations.length !== 1) bad('more than one personalization (the spec sends one request per target)', 'personalizations');
      const p = m.personalizations[0];
      const addresses = (v, field) => {
        if (v === undefined) return [];
        if (!Array.isArray(v) || v.length === 0 || !v.every((a) => isObject(a) && typeof a.email === 'string' && a.email.includes('@'))) bad(`Each ${field} must have a valid email.`, `personalizations.0.${field}`);
        return v;
      };
      const to = addresses(p.to, 'to');
      if (to.length !== 1) bad('exactly one to address per request (the spec sends one request per target)', 'personalizations.0.to');
      const cc = addresses(p.cc, 'cc');
      const bcc = addresses(p.bcc, 'bcc');
      if (!isObject(m.from) || typeof m.from.email !== 'string') bad('The from object must be provided for every email send.', 'from');
      if (m.reply_to !== undefined && !(isObject(m.reply_to) && typeof m.reply_to.email === 'string')) bad('The reply_to email does not contain a valid address.', 'reply_to');
      const subject = p.subject ?? m.subject;
      if (typeof subject !== 'string' || subject === '') bad('The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.', 'subject');
      if (!Array.isArray(m.content) || m.content.length === 0) bad('Unless a valid template_id is provided, the content parameter is required.', 'content');
      for (const part of m.content) {
        if (!isObject(part) || typeof part.type !== 'string' || typeof part.value !== 'string' || part.value === '') bad('The content value must be a string at least one character in length.', 'content.0.value');
      }
      const attachments = m.attachments ?? [];
      if (!Array.isArray(attachments)) bad('attachments must be an array', 'attachments');
      for (const a of attachments) {
        if (!isObject(a) || !isBase64(a.content)) bad('The attachment content must be base64 encoded.', 'attachments.0.content');
        if (typeof a.filename !== 'string' || a.filename === '') bad('The attachment filename parameter is required.', 'attachments.0.filename');
        if (a.disposition !== undefined && !['attachment', 'inline'].includes(a.disposition)) bad('disposition must be attachment or inline', 'attachments.0.disposition');
      }
      const display = (a) => (a.name ? `${a.name} <${a.email}>` : a.email);
      return {
        record: {
          to: to[0].email, toName: to[0].name ?? null, cc: cc.map((a) => a.email), bcc: bcc.map((a) => a.email),
          from: display(m.from), fromEmail: m.from.email, replyTo: m.reply_to ? display(m.reply_to) : null, subject,
          text: m.content.find((x) => x.type === 'text/plain')?.value ?? null,
          html: m.content.find((x) => x.type === 'text/html')?.value ?? null,
          attachments: attachments.map((a) => ({ name: a.filename, type: a.type ?? null, bytes: Buffer.from(a.content, 'base64') })),
        },
        ok: empty(202, { 'x-message-id': rand(11) }),
      };
    },
  };

  const resendError = (status, name, message) => json(status, { statusCode: status, name, message });
  const resend = {
    route: /^\/emails$/,
    failure: (status) => (status === 429 ? resendError(429, 'rate_limit_exceeded', 'Too many requests. You can only make 2 requests per second.')
      : status >= 500 ? resendError(status, 'application_error', 'An unexpected error occurred.')
        : resendError(status, 'validation_error', 'Invalid `to` field.')),
    handle(ctx) {
      const auth = ctx.headers.authorization;
      if (!auth) refuse(resendError(401, 'missing_api_key', 'Missing API key in the authorization header. Include the following header in the request: Authorization: Bearer YOUR_API_KEY'), 'no Authorization');
      if (!same(auth, `Bearer ${c.resend.apiKey}`)) refuse(resendError(403, 'invalid_api_key', 'API key is invalid'), 'bad Bearer apiKey');
      const m = parseJson(ctx, (msg) => resendError(422, 'validation_error', msg));
      const bad = (msg) => refuse(resendError(422, 'validation_error', msg), msg);
      for (const f of ['from', 'to', 'subject']) if (m[f] == null || m[f] === '') refuse(resendError(422, 'missing_required_field', `Missing \`${f}\` field.`), `no ${f}`);
      if (typeof m.from !== 'string') bad('Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.');
      const to = list(m.to);
      if (to.length !== 1) bad(`${to.length} recipients in one request (the spec sends one request per target)`);
      if (m.text == null && m.html == null) bad('Missing `html` or `text` field.');
      const attachments = m.attachments ?? [];
      for (const a of attachments) {
        if (!isObject(a) || typeof a.filename !== 'string' || !isBase64(a.content)) bad('Invalid `attachments` field: each needs `filename` and base64 `content`.');
      }
      return {
        record: {
          to: bare(to[0]), cc: list(m.cc).map(bare), bcc: list(m.bcc).map(bare),
          from: m.from, fromEmail: bare(m.from), replyTo: list(m.reply_to)[0] ?? null,
          subject: m.subject, text: m.text ?? null, html: m.html ?? null,
          attachments: attachments.map((a) => ({ name: a.filename, type: a.content_type ?? null, bytes: Buffer.from(a.content, 'base64') })),
        },
        ok: json(200, { id: crypto.randomUUID() }),
      };
    },
  };

  const postmarkError = (status, ErrorCode, Message) => json(status, { ErrorCode, Message });
  const postmark = {
    route: /^\/email$/,
    failure: (status) => (status === 429 ? postmarkError(429, 429, 'Rate limit exceeded.')
      : status >= 500 ? postmarkError(status, 0, 'Internal Server Error')
        : postmarkError(status, 406, "You tried to send to recipient(s) that have been marked as inactive.")),
    handle(ctx) {
      if (!same(ctx.headers['x-postmark-server-token'], c.postmark.apiKey)) {
        refuse(postmarkError(401, 10, 'The Server Token you provided in the X-Postmark-Server-Token request header was invalid. Please verify that you are using a valid token.'), 'bad X-Postmark-Server-Token');
      }
      // Postmark's docs (and the spec) require both headers.
      if (!/application\/json/.test(ctx.headers.accept ?? '')) refuse(postmarkError(406, 0, 'The Accept header must be application/json.'), `accept ${ctx.headers.accept ?? '(none)'}`);
      const m = parseJson(ctx, (msg) => postmarkError(415, 0, msg));
      const bad = (msg, code = 300) => refuse(postmarkError(422, code, msg), msg);
      if (typeof m.From !== 'string' || m.From === '') bad("Error parsing 'From': Value cannot be null.");
      const to = list(m.To);
      if (to.length === 0) bad('Zero recipients specified');
      if (to.length !== 1) bad(`${to.length} recipients in one request (the spec sends one request per target)`);
      if (typeof m.Subject !== 'string') bad('Subject is required.');
      if (m.TextBody == null && m.HtmlBody == null) bad('Provide either email TextBody or HtmlBody or both.');
      if (m.MessageStream !== undefined && m.MessageStream !== 'outbound') bad(`The message stream for the provided 'ID' (${m.MessageStream}) was not found.`, 1235);
      const attachments = m.Attachments ?? [];
      for (const a of attachments) {
        if (!isObject(a) || typeof a.Name !== 'string' || !isBase64(a.Content) || typeof a.ContentType !== 'string') bad('Invalid attachment: Name, base64 Content and ContentType are required.');
      }
      return {
        record: {
          to: bare(to[0]), cc: list(m.Cc).map(bare), bcc: list(m.Bcc).map(bare),
          from: m.From, fromEmail: bare(m.From), replyTo: m.ReplyTo ?? null,
          subject: m.Subject, text: m.TextBody ?? null, html: m.HtmlBody ?? null,
          attachments: attachments.map((a) => ({ name: a.Name, type: a.ContentType, bytes: Buffer.from(a.Content, 'base64') })),
        },
        ok: json(200, { To: m.To, SubmittedAt: new Date().toISOString(), MessageID: crypto.randomUUID(), ErrorCode: 0, Message: 'OK' }),
      };
    },
  };

  // SES v2 errors: the type in `x-amzn-ErrorType`, `{message}` in the body.
  const sesError = (status, type, message) => json(status, { message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.sesv2/` });
  const SIGNATURE_MISMATCH = 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
  const ses = {
    route: /^\/v2\/email\/outbound-emails$/,
    failure: (status) => (status === 429 ? sesError(429, 'TooManyRequestsException', 'Maximum sending rate exceeded.')
      : status >= 500 ? sesError(status, status === 503 ? 'ServiceUnavailable' : 'InternalFailure', 'Service unavailable')
        : sesError(status, 'MessageRejected', 'Email address is not verified. The following identities failed the check in region US-EAST-1.')),
    handle(ctx) {
      verifySigV4(ctx);
      const m = parseJson(ctx, (msg) => sesError(400, 'BadRequestException', msg));
      const bad = (msg) => refuse(sesError(400, 'BadRequestException', msg), msg);
      const d = m.Destination;
      if (d !== undefined && !isObject(d)) bad('Destination must be an object');
      for (const k of ['ToAddresses', 'CcAddresses', 'BccAddresses']) {
        if (d?.[k] !== undefined && !(Array.isArray(d[k]) && d[k].every((a) => typeof a === 'string'))) bad(`Destination.${k} must be a list of strings`);
      }
      if (m.ReplyToAddresses !== undefined && !Array.isArray(m.ReplyToAddresses)) bad('ReplyToAddresses must be a list of strings');
      if (!isObject(m.Content)) bad('1 validation error detected: Value null at \'content\' failed to satisfy constraint: Member must not be null');
      let mail;
      if (isObject(m.Content.Simple)) {
        const s = m.Content.Simple;
        if (typeof m.FromEmailAddress !== 'string') bad('Missing FromEmailAddress');
        if (!isObject(s.Subject) || typeof s.Subject.Data !== 'string') bad('Simple.Subject.Data is required');
        if (!isObject(s.Body) || !(isObject(s.Body.Text) || isObject(s.Body.Html))) bad('Simple.Body needs Text or Html');
        for (const part of [s.Subject, s.Body.Text, s.Body.Html]) {
          if (part && (typeof part.Data !== 'string' || (part.Charset !== undefined && !/^utf-8$/i.test(part.Charset)))) bad('Content parts need string Data and Charset UTF-8');
        }
        mail = { subject: s.Subject.Data, text: s.Body.Text?.Data ?? null, html: s.Body.Html?.Data ?? null, attachments: [], headers: {} };
      } else if (isObject(m.Content.Raw)) {
        if (!isBase64(m.Content.Raw.Data)) bad('Content.Raw.Data must be base64');
        const raw = Buffer.from(m.Content.Raw.Data, 'base64').toString('utf8');
        if (raw.indexOf('\r\n\r\n') < 0) bad('Raw message is not a MIME message (no CRLF CRLF after the headers)');
        mail = parseMimeDeep(raw);
      } else bad('Content needs Simple or Raw');
      // A raw message may carry its recipients in its headers only; Bcc never is (spec).
      const to = d?.ToAddresses ?? list(mail.headers.to);
      if (to.length !== 1) bad(`${to.length} To addresses in one request (the spec sends one request per target)`);
      const from = m.FromEmailAddress ?? mail.headers.from;
      if (!from) bad('Missing FromEmailAddress');
      return {
        record: {
          to: bare(to[0]), cc: (d?.CcAddresses ?? list(mail.headers.cc)).map(bare), bcc: (d?.BccAddresses ?? []).map(bare),
          from, fromEmail: bare(from), replyTo: m.ReplyToAddresses?.[0] ?? mail.headers['reply-to'] ?? null,
          subject: mail.subject, text: mail.text, html: mail.html, attachments: mail.attachments,
          mimeHeaders: m.Content.Raw ? mail.headers : null,
        },
        ok: json(200, { MessageId: `0100${rand(8)}-${crypto.randomUUID()}-000000` }),
      };
    },
  };

  /**
   * AWS Signature Version 4, checked in full: the canonical request from method, path, query,
   * the signed headers as received and the SHA-256 of the body; the string to sign with the
   * request's x-amz-date and credential scope; the HMAC chain from the secret key.
   */
  function verifySigV4(ctx) {
    const auth = ctx.headers.authorization;
    if (!auth) refuse(sesError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token'), 'no Authorization');
    const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) refuse(sesError(400, 'IncompleteSignatureException', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=${auth.split(' ')[0]}`), 'malformed Authorization');
    const [, accessKey, day, region, service, signedHeaders, signature] = m;
    if (accessKey !== c.ses.accessKey) refuse(sesError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.'), 'unknown access key');
    if (region !== c.ses.region || service !== 'ses') refuse(sesError(403, 'SignatureDoesNotMatch', `Credential should be scoped to a valid region and service 'ses' (got ${region}/${service}).`), `scope ${region}/${service}`);
    const amzDate = ctx.headers['x-amz-date'];
    if (!/^\d{8}T\d{6}Z$/.test(amzDate ?? '')) refuse(sesError(400, 'IncompleteSignatureException', 'Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.'), 'no x-amz-date');
    if (amzDate.slice(0, 8) !== day) refuse(sesError(403, 'SignatureDoesNotMatch', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP'), 'scope date differs from x-amz-date');
    const when = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`);
    if (Math.abs(Date.now() - when) > 15 * 60_000) refuse(sesError(403, 'InvalidSignatureException', `Signature expired: ${amzDate} is not within 15 minutes of now`), 'stale x-amz-date');
    const names = signedHeaders.split(';');
    if (!names.includes('host') || !names.includes('x-amz-date')) refuse(sesError(403, 'SignatureDoesNotMatch', 'host and x-amz-date must be signed'), `SignedHeaders=${signedHeaders}`);
    if ([...names].sort().join(';') !== signedHeaders) refuse(sesError(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH), 'SignedHeaders not sorted');
    const bodyHash = sha256hex(ctx.body);
    const declared = ctx.headers['x-amz-content-sha256'];
    if (declared !== undefined && declared !== bodyHash) refuse(sesError(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.'), 'x-amz-content-sha256 is not the body hash');
    const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
    const query = [...ctx.url.searchParams].map(([k, v]) => [enc(k), enc(v)]).sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
    const canonicalHeaders = names.map((n) => `${n}:${String(ctx.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
    const canonicalRequest = [ctx.method, ctx.url.pathname, query, canonicalHeaders, signedHeaders, bodyHash].join('\n');
    const scope = `${day}/${region}/${service}/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${c.ses.secretKey}`, day), region), service), 'aws4_request');
    const expected = hmac(key, stringToSign).toString('hex');
    if (!same(expected, signature)) {
      // Real AWS quotes the canonical request and string to sign; that is what one debugs with.
      refuse(sesError(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH), `SigV4 signature mismatch; canonical request was:\n${canonicalRequest}`);
    }
  }

  // SMS ---------------------------------------------------------------------------------------

  const twilioError = (status, code, message) => json(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
  const twilio = {
    route: /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/,
    failure: (status) => (status === 429 ? twilioError(429, 20429, 'Too Many Requests')
      : status >= 500 ? twilioError(status, 20500, 'Internal Server Error')
        : twilioError(status, 21610, 'Attempt to send to unsubscribed recipient')),
    handle(ctx, [sid]) {
      if (sid !== c.twilio.accountSid || !same(ctx.headers.authorization, basic(c.twilio.accountSid, c.twilio.authToken))) refuse(twilioError(401, 20003, 'Authenticate'), 'bad Basic accountSid:authToken (or another account in the path)');
      const form = parseForm(ctx);
      if (!form) refuse(twilioError(400, 21620, 'Content-Type must be application/x-www-form-urlencoded'), `content-type ${ctx.headers['content-type']}`);
      const to = form.get('To');
      if (!to) refuse(twilioError(400, 21604, "A 'To' phone number is required."), 'no To');
      if (!/^\+\d{4,15}$/.test(to)) refuse(twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`), `To ${to} is not E.164`);
      if (!form.get('From') && !form.get('MessagingServiceSid')) refuse(twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message"), 'no From');
      if (!form.get('Body') && !form.get('MediaUrl')) refuse(twilioError(400, 21602, 'Message body is required.'), 'no Body');
      const messageSid = `SM${rand(16)}`;
      const created = new Date().toUTCString().replace('GMT', '+0000');
      return {
        record: { to, from: form.get('From'), content: form.get('Body') },
        ok: json(201, {
          sid: messageSid, account_sid: sid, to, from: form.get('From'), body: form.get('Body'), status: 'queued',
          num_segments: '1', direction: 'outbound-api', api_version: '2010-04-01', date_created: created, date_updated: created,
          date_sent: null, price: null, error_code: null, error_message: null,
          uri: `/2010-04-01/Accounts/${sid}/Messages/${messageSid}.json`,
        }),
      };
    },
  };

  // Vonage answers HTTP 200 for its own refusals; the verdict is messages[0].status.
  const vonageStatus = (status, text, to = '') => json(200, { 'message-count': '1', messages: [{ to, status, 'error-text': text }] });
  const vonage = {
    route: /^\/sms\/json$/,
    failure: (status) => (status === 'vonage-rejected' ? vonageStatus('4', 'Bad Credentials')
      : status === 'vonage-throttled' ? vonageStatus('1', 'Throughput Rate Exceeded - please wait [ 10 ] and retry')
        : json(status, { type: 'https://developer.nexmo.com/api-errors', title: status >= 500 ? 'Internal Error' : 'Bad Request', detail: 'failure injected by failFor' })),
    handle(ctx) {
      const form = parseForm(ctx);
      if (!form) refuse(vonageStatus('2', 'Missing api_key'), `content-type ${ctx.headers['content-type']}`);
      for (const f of ['api_key', 'api_secret', 'from', 'to', 'text']) if (!form.get(f)) refuse(vonageStatus('2', `Missing ${f} param`), `no ${f}`);
      if (!same(form.get('api_key'), c.vonage.apiKey) || !same(form.get('api_secret'), c.vonage.apiSecret)) refuse(vonageStatus('4', 'Bad Credentials'), 'bad api_key/api_secret');
      const to = form.get('to');
      if (!/^\d{4,15}$/.test(to)) refuse(vonageStatus('3', 'Invalid to param', to), `to ${to} is not digits without '+'`);
      return {
        record: { to: `+${to}`, from: form.get('from'), content: form.get('text') },
        ok: json(200, { 'message-count': '1', messages: [{ to, 'message-id': crypto.randomUUID(), status: '0', 'remaining-balance': '10.00000000', 'message-price': '0.03330000', network: '23410' }] }),
      };
    },
  };

  const textmagicError = (status, message, fields) => json(status, { code: status, message, errors: fields ? { common: [], fields } : undefined });
  const textmagic = {
    route: /^\/api\/v2\/messages$/,
    failure: (status) => textmagicError(status, status === 429 ? 'Too Many Requests' : status >= 500 ? 'Internal Server Error' : 'Validation Failed', status === 400 ? { phones: ['Phone number is invalid.'] } : undefined),
    handle(ctx) {
      if (!same(ctx.headers['x-tm-username'], c.textmagic.username) || !same(ctx.headers['x-tm-key'], c.textmagic.apiKey)) refuse(textmagicError(401, 'Unauthorized'), 'bad X-TM-Username/X-TM-Key');
      const form = parseForm(ctx);
      if (!form) refuse(textmagicError(400, 'Validation Failed', { text: ['Content-Type must be application/x-www-form-urlencoded'] }), `content-type ${ctx.headers['content-type']}`);
      if (!form.get('text')) refuse(textmagicError(400, 'Validation Failed', { text: ['This value should not be blank.'] }), 'no text');
      const phones = list(form.get('phones'));
      if (phones.length === 0) refuse(textmagicError(400, 'Validation Failed', { phones: ['This value should not be blank.'] }), 'no phones');
      if (phones.length !== 1) refuse(textmagicError(400, 'Validation Failed', { phones: ['one phone per request'] }), `${phones.length} phones in one request (the spec sends one request per target)`);
      if (!/^\d{4,15}$/.test(phones[0])) refuse(textmagicError(400, 'Validation Failed', { phones: [`${phones[0]} is not a valid phone number.`] }), `phones ${phones[0]} is not digits without '+'`);
      const id = Number.parseInt(rand(3), 16);
      return {
        record: { to: `+${phones[0]}`, from: form.get('from'), content: form.get('text') },
        ok: json(201, { id, href: `/api/v2/messages/${id}`, type: 'message', sessionId: id + 1, bulkId: null, messageId: id, scheduleId: null }),
      };
    },
  };

  const telesignError = (status, code, description) => json(status, { reference_id: rand(16).toUpperCase(), status: { code: status >= 500 ? 501 : 502, updated_on: new Date().toISOString(), description: 'Not Delivered' }, errors: [{ code, description }] });
  const telesign = {
    route: /^\/v1\/messaging$/,
    failure: (status) => telesignError(status, status === 429 ? -40007 : status >= 500 ? -90001 : -10001, status === 429 ? 'Rate limit exceeded' : status >= 500 ? 'System unavailable, please try again later.' : 'Invalid Request: PhoneNumber Parameter: Invalid value'),
    handle(ctx) {
      if (!same(ctx.headers.authorization, basic(c.telesign.customerId, c.telesign.apiKey))) refuse(telesignError(401, -30000, 'Invalid Customer ID or API key.'), 'bad Basic customerId:apiKey');
      const form = parseForm(ctx);
      if (!form) refuse(telesignError(400, -10001, 'Content-Type must be application/x-www-form-urlencoded'), `content-type ${ctx.headers['content-type']}`);
      const phone = form.get('phone_number');
      if (!phone) refuse(telesignError(400, -10001, 'Invalid Request: PhoneNumber Parameter: Required'), 'no phone_number');
      if (!/^\d{4,15}$/.test(phone)) refuse(telesignError(400, -10001, `Invalid Request: PhoneNumber Parameter: ${phone}`), `phone_number ${phone} is not digits without '+'`);
      if (!form.get('message')) refuse(telesignError(400, -10001, 'Invalid Request: Message Parameter: Required'), 'no message');
      if (!['ARN', 'OTP', 'MKT'].includes(form.get('message_type'))) refuse(telesignError(400, -10001, 'Invalid Request: MessageType Parameter: must be OTP, ARN or MKT'), `message_type ${form.get('message_type')}`);
      return {
        record: { to: `+${phone}`, from: form.get('sender_id'), content: form.get('message'), messageType: form.get('message_type') },
        ok: json(200, { reference_id: rand(16).toUpperCase(), status: { code: 290, updated_on: new Date().toISOString(), description: 'Message in progress' }, additional_info: { message_parts_count: 1 } }),
      };
    },
  };

  const msg91Error = (status, message) => json(status, { type: 'error', message, code: String(status) });
  const msg91 = {
    route: /^\/api\/v5\/flow\/?$/,
    failure: (status) => msg91Error(status, status === 429 ? 'Too many requests' : status >= 500 ? 'Internal server error' : 'Mobile number not valid'),
    handle(ctx) {
      if (!same(ctx.headers.authkey, c.msg91.authKey)) refuse(msg91Error(401, 'Authentication failure'), 'bad authkey header');
      const m = parseJson(ctx, (msg) => msg91Error(400, msg));
      const bad = (msg) => refuse(msg91Error(400, msg), msg);
      if (m.template_id !== c.msg91.templateId) bad(`Template ID ${m.template_id} not found`);
      if (m.sender !== c.msg91.senderId) bad(`Sender ID ${m.sender} is not approved`);
      if (m.short_url !== undefined && !['0', '1'].includes(m.short_url)) bad('short_url must be "0" or "1"');
      if (!Array.isArray(m.recipients) || m.recipients.length === 0) bad('recipients are required');
      if (m.recipients.length !== 1) bad(`${m.recipients.length} recipients in one request (the spec sends one request per target)`);
      const r = m.recipients[0];
      if (!isObject(r) || !/^\d{4,15}$/.test(String(r.mobiles ?? ''))) bad(`Mobile number ${r?.mobiles} not valid (digits without '+')`);
      if (typeof r.content !== 'string') bad('recipients[0].content (the template variable) is required');
      return {
        record: { to: `+${r.mobiles}`, from: m.sender, content: r.content },
        ok: json(200, { type: 'success', message: rand(12) }),
      };
    },
  };

  // Push --------------------------------------------------------------------------------------

  // Google's OAuth token endpoint: a signed JWT assertion for an access token.
  const oauthError = (error, error_description) => json(400, { error, error_description });
  const fcmToken = {
    route: /^\/token$/,
    handle(ctx) {
      state.tokenRequests += 1;
      const form = parseForm(ctx);
      if (!form) refuse(oauthError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded'), `content-type ${ctx.headers['content-type']}`);
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') refuse(oauthError('unsupported_grant_type', `Invalid grant_type: ${form.get('grant_type') ?? ''}`), `grant_type ${form.get('grant_type')}`);
      const jwt = decodeJwt(form.get('assertion'));
      if (!jwt) refuse(oauthError('invalid_grant', 'Invalid JWT: malformed assertion'), 'assertion is not a JWT');
      const { header, payload } = jwt;
      const invalid = (reason) => refuse(oauthError('invalid_grant', 'Invalid JWT Signature.'), reason);
      if (header.alg !== 'RS256') invalid(`alg ${header.alg}`);
      if (header.kid !== undefined && header.kid !== serviceAccount.private_key_id) invalid(`kid ${header.kid} is not private_key_id`);
      if (!crypto.verify('sha256', Buffer.from(jwt.signingInput), rsaPublic, jwt.signature)) invalid('RS256 signature does not verify with the service account key');
      if (payload.iss !== serviceAccount.client_email) refuse(oauthError('invalid_grant', 'Invalid grant: account not found'), `iss ${payload.iss}`);
      const aud = `${state.origin}/token`;
      if (payload.aud !== aud) refuse(oauthError('invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${aud}`), `aud ${payload.aud}`);
      const t = now();
      const shortLived = Number.isInteger(payload.iat) && Number.isInteger(payload.exp) && payload.exp > payload.iat && payload.exp - payload.iat <= 3600 && payload.iat <= t + 60 && payload.exp > t;
      if (!shortLived) refuse(oauthError('invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.'), `iat ${payload.iat} exp ${payload.exp}`);
      if (!String(payload.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/firebase.messaging')) refuse(oauthError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.'), `scope ${payload.scope}`);
      const accessToken = `ya29.${crypto.randomBytes(48).toString('base64url')}`;
      state.accessTokens.set(accessToken, Date.now() + 3599_000);
      return { answer: json(200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' }) };
    },
  };

  // FCM v1 errors: google.rpc.Status, with the FCM error code in `details`.
  const FCM_STATUS = {
    400: ['INVALID_ARGUMENT', 'INVALID_ARGUMENT'], 401: ['UNAUTHENTICATED', 'THIRD_PARTY_AUTH_ERROR'],
    403: ['PERMISSION_DENIED', 'SENDER_ID_MISMATCH'], 404: ['NOT_FOUND', 'UNREGISTERED'],
    429: ['RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'], 500: ['INTERNAL', 'INTERNAL'], 503: ['UNAVAILABLE', 'UNAVAILABLE'],
  };
  const fcmError = (status, message, errorCode) => {
    const [rpc, fcmCode] = FCM_STATUS[status] ?? [status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION', undefined];
    const code = errorCode === undefined ? fcmCode : errorCode; // null: no FcmError detail
    return json(status, { error: { code: status, message, status: rpc, details: code ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: code }] : [] } });
  };
  // The proto fields FCM knows; the JSON mapping takes snake_case or lowerCamelCase, and an
  // unknown name is a 400, as with the real API.
  const norm = (k) => k.replace(/_/g, '').toLowerCase();
  const FIELDS = {
    message: 'name data notification android webpush apns fcm_options token topic condition',
    notification: 'title body image',
    android: 'collapse_key priority ttl restricted_package_name data notification fcm_options direct_boot_ok',
    'android.notification': 'title body icon color sound tag click_action body_loc_key body_loc_args title_loc_key title_loc_args channel_id ticker sticky event_time local_only notification_priority default_sound default_vibrate_timings default_light_settings vibrate_timings visibility notification_count light_settings image bypass_proxy_notification proxy',
    apns: 'headers payload fcm_options live_activity_token',
  };
  const fcm = {
    route: /^\/v1\/projects\/([^/]+)\/messages:send$/,
    failure: (status, reason) => fcmError(status, status === 404 ? 'Requested entity was not found.' : status === 429 ? 'Quota exceeded for quota metric.' : status >= 500 ? 'The service is currently unavailable.' : 'The registration token is not a valid FCM registration token', reason),
    handle(ctx, [project]) {
      const bearer = /^Bearer (.+)$/.exec(ctx.headers.authorization ?? '')?.[1];
      const expiry = bearer && state.accessTokens.get(bearer);
      if (!expiry || expiry < Date.now()) {
        refuse(fcmError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.'), bearer ? 'access token not issued by /token (or expired)' : 'no Bearer token');
      }
      if (decode(project) !== serviceAccount.project_id) refuse(fcmError(403, `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`, null), `project ${project}`);
      const body = parseJson(ctx, (msg) => fcmError(400, `Invalid JSON payload received. ${msg}`));
      const bad = (msg) => refuse(fcmError(400, msg), msg);
      const known = (obj, where) => {
        if (obj === undefined) return;
        if (!isObject(obj)) bad(`Invalid value at '${where}': must be an object`);
        const names = new Set(FIELDS[where].split(' ').map(norm));
        for (const k of Object.keys(obj)) if (!names.has(norm(k))) bad(`Invalid JSON payload received. Unknown name "${k}" at '${where}': Cannot find field.`);
      };
      for (const k of Object.keys(body)) if (!['message', 'validate_only', 'validateOnly'].includes(k)) bad(`Invalid JSON payload received. Unknown name "${k}": Cannot find field.`);
      const m = body.message;
      if (!isObject(m)) bad('Request contains an invalid argument: message is required');
      known(m, 'message');
      known(m.notification, 'notification');
      known(m.android, 'android');
      known(m.android?.notification, 'android.notification');
      known(m.apns, 'apns');
      const targets = ['token', 'topic', 'condition'].filter((k) => m[k] !== undefined);
      if (targets.length !== 1 || typeof m.token !== 'string' || m.token === '') bad('Request contains an invalid argument: exactly one of token, topic, condition (and the spec sends a token)');
      for (const [where, data] of [['message.data', m.data], ['message.android.data', m.android?.data]]) {
        if (data === undefined) continue;
        if (!isObject(data)) bad(`Invalid value at '${where}': must be a map`);
        const i = Object.values(data).findIndex((v) => typeof v !== 'string');
        if (i >= 0) bad(`Invalid value at '${where}[${i}].value' (TYPE_STRING), ${JSON.stringify(Object.values(data)[i])}`);
      }
      const priority = m.android?.priority;
      if (priority !== undefined && !['HIGH', 'NORMAL'].includes(priority)) bad(`Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), "${priority}"`);
      const color = m.android?.notification?.color;
      if (color !== undefined && !/^#[0-9a-fA-F]{6}$/.test(color)) bad('Invalid color format: must be #rrggbb');
      const headers = m.apns?.headers;
      if (headers !== undefined && (!isObject(headers) || Object.values(headers).some((v) => typeof v !== 'string'))) bad("Invalid value at 'message.apns.headers': values must be strings");
      if (headers?.['apns-priority'] !== undefined && !['10', '5', '1'].includes(headers['apns-priority'])) bad('Invalid apns-priority');
      if (m.apns?.payload !== undefined && !isObject(m.apns.payload?.aps)) bad("Invalid value at 'message.apns.payload': payload must have an aps dictionary");
      return {
        record: { to: m.token, title: m.notification?.title ?? null, body: m.notification?.body ?? null, data: m.data ?? null, payload: m },
        ok: json(200, { name: `projects/${serviceAccount.project_id}/messages/0:${Date.now()}%${rand(8)}` }),
      };
    },
  };

  const apnsError = (status, reason, apnsId) => json(status, reason === 'Unregistered' ? { reason, timestamp: Date.now() } : { reason }, { 'apns-id': apnsId });
  const APNS_REASON = { 400: 'BadDeviceToken', 403: 'Forbidden', 404: 'BadPath', 405: 'MethodNotAllowed', 410: 'Unregistered', 413: 'PayloadTooLarge', 429: 'TooManyRequests', 500: 'InternalServerError', 503: 'ServiceUnavailable' };
  const apns = {
    route: /^\/3\/device\/([^/]+)$/,
    failure: (status, reason, ctx) => apnsError(status, reason ?? APNS_REASON[status] ?? 'InternalServerError', ctx.apnsId),
    handle(ctx, [token]) {
      const apnsId = ctx.apnsId;
      const no = (status, reason, why) => refuse(apnsError(status, reason, apnsId), why ?? reason);
      const bearer = /^bearer (.+)$/i.exec(ctx.headers.authorization ?? '')?.[1];
      if (!bearer) no(403, 'MissingProviderToken', 'no bearer token');
      const jwt = decodeJwt(bearer);
      if (!jwt) no(403, 'InvalidProviderToken', 'bearer is not a JWT');
      if (jwt.header.alg !== 'ES256') no(403, 'InvalidProviderToken', `alg ${jwt.header.alg}`);
      if (jwt.header.kid !== c.apns.authKeyId) no(403, 'InvalidProviderToken', `kid ${jwt.header.kid} is not authKeyId`);
      if (jwt.payload.iss !== c.apns.teamId) no(403, 'InvalidProviderToken', `iss ${jwt.payload.iss} is not teamId`);
      // JOSE ES256 is the raw 64-byte r||s; a DER signature fails here, as it does at Apple.
      if (jwt.signature.length !== 64 || !crypto.verify('sha256', Buffer.from(jwt.signingInput), { key: ecPublic, dsaEncoding: 'ieee-p1363' }, jwt.signature)) no(403, 'InvalidProviderToken', 'ES256 signature does not verify with authKey');
      const iat = jwt.payload.iat;
      if (!Number.isInteger(iat) || iat > now() + 60) no(403, 'InvalidProviderToken', `iat ${iat}`);
      if (iat < now() - 3600) no(403, 'ExpiredProviderToken', `iat ${iat} older than an hour`);
      const topic = ctx.headers['apns-topic'];
      if (!topic) no(400, 'MissingTopic');
      if (topic !== c.apns.bundleId) no(400, 'TopicDisallowed', `apns-topic ${topic} is not bundleId`);
      const pushType = ctx.headers['apns-push-type'];
      // Apple only recommends apns-push-type for iOS, but the spec always sends it.
      if (!['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm', 'location', 'liveactivity', 'pushtotalk'].includes(pushType)) no(400, 'InvalidPushType', `apns-push-type ${pushType ?? '(none)'}`);
      const priority = ctx.headers['apns-priority'];
      if (priority !== undefined && !['10', '5', '1'].includes(priority)) no(400, 'BadPriority', `apns-priority ${priority}`);
      if (ctx.headers['apns-expiration'] !== undefined && !/^\d+$/.test(ctx.headers['apns-expiration'])) no(400, 'BadExpirationDate');
      if (ctx.body.length > 4096) no(413, 'PayloadTooLarge');
      if (ctx.body.length === 0) no(400, 'PayloadEmpty');
      let payload;
      try {
        payload = JSON.parse(ctx.body.toString('utf8'));
      } catch {
        no(400, 'BadPayload', 'body is not JSON');
      }
      if (!isObject(payload) || !isObject(payload.aps)) no(400, 'BadPayload', 'no aps dictionary');
      const alert = payload.aps.alert;
      const { aps: _aps, ...data } = payload;
      return {
        record: {
          to: decode(token),
          title: isObject(alert) ? alert.title ?? null : null,
          body: isObject(alert) ? alert.body ?? null : typeof alert === 'string' ? alert : null,
          data: Object.keys(data).length ? data : null,
          payload, pushType, priority: priority ?? null,
        },
        ok: empty(200, { 'apns-id': apnsId }),
      };
    },
  };

  return { mailgun, sendgrid, resend, postmark, ses, twilio, vonage, textmagic, telesign, msg91, 'fcm-token': fcmToken, fcm, apns };
}

// ---------------------------------------------------------------------------------------------
// The server

const RECORD_DEFAULTS = {
  to: null, cc: [], bcc: [], from: null, replyTo: null, subject: null, text: null, html: null,
  content: null, title: null, body: null, data: null, attachments: [],
};

/**
 * Starts all stand-ins on one loopback HTTP server (`port` 0 = any free port). See the file
 * comment; call `close()` in `after`.
 */
export async function startProviders({ port = 0 } = {}) {
  const generated = makeCredentials();
  const state = { ...generated, origin: '', tokenRequests: 0, accessTokens: new Map() };
  const providers = makeProviders(state);
  const requests = [];
  const failures = [];
  const rejected = [];
  const rules = new Map(); // `${provider}\n${recipientKey}` → {status, reason, remaining}

  /** The failure rule for this delivery, counted down; null when it should succeed. */
  const takeRule = (provider, to) => {
    for (const key of [`${provider}\n${recipientKey(provider, to)}`, `${provider}\n*`]) {
      const rule = rules.get(key);
      if (!rule) continue;
      if (rule.remaining <= 0) { rules.delete(key); continue; }
      rule.remaining -= 1;
      return rule;
    }
    return null;
  };

  const holds = new Map(); // `${provider}\n${recipientKey}` → {ms, remaining}
  const takeHold = (provider, to) => {
    for (const key of [`${provider}\n${recipientKey(provider, to)}`, `${provider}\n*`]) {
      const hold = holds.get(key);
      if (!hold) continue;
      if (hold.remaining <= 0) { holds.delete(key); continue; }
      hold.remaining -= 1;
      return hold;
    }
    return null;
  };

  const send = (res, answer) => {
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, state.origin);
      const raw = { method: req.method, url: req.url, headers: req.headers, body };
      // APNs echoes the caller's apns-id, or makes one up; errors carry it too.
      const ctx = { method: req.method, url, headers: req.headers, body, apnsId: req.headers['apns-id'] ?? crypto.randomUUID() };
      let name = null;
      let params = null;
      if (req.method === 'POST') {
        for (const [n, p] of Object.entries(providers)) {
          const m = p.route.exec(url.pathname);
          if (m) { name = n; params = m.slice(1); break; }
        }
      }
      if (!name) {
        rejected.push({ provider: null, status: 404, reason: `unknown endpoint ${req.method} ${req.url}`, raw, at: Date.now() });
        send(res, json(404, { message: `no stand-in answers ${req.method} ${url.pathname}` }));
        return;
      }
      const provider = providers[name];
      try {
        const out = provider.handle(ctx, params);
        if (out.answer) { send(res, out.answer); return; }
        const record = { ...RECORD_DEFAULTS, provider: name, ...out.record, raw, at: Date.now() };
        const rule = takeRule(name, record.to);
        // A `slowFor` delivery is recorded as it arrives and answered `ms` later.
        const hold = takeHold(name, record.to);
        const answer = (entry, reply) => {
          const release = () => { entry.answeredAt = Date.now(); send(res, reply); };
          if (hold) setTimeout(release, hold.ms); else release();
        };
        if (rule) {
          const entry = { ...record, status: rule.status };
          failures.push(entry);
          answer(entry, provider.failure(rule.status, rule.reason, ctx));
          return;
        }
        requests.push(record);
        answer(record, out.ok);
      } catch (e) {
        if (!(e instanceof Refusal)) {
          // A bug in the stand-in: say so loudly rather than look like a provider verdict.
          rejected.push({ provider: name, status: 500, reason: `stand-in crashed: ${e.stack}`, raw, at: Date.now() });
          send(res, plain(500, `stand-in crashed: ${e.message}`));
          return;
        }
        rejected.push({ provider: name, status: e.answer.status, reason: e.reason, raw, at: Date.now() });
        send(res, e.answer);
      }
    });
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  state.origin = `http://127.0.0.1:${server.address().port}`;

  const matching = (list, provider, to) => list.filter((r) => r.provider === provider && recipientKey(provider, r.to) === recipientKey(provider, to));

  return {
    origin: state.origin,
    credentials: generated.credentials,
    requests,
    failures,
    rejected,
    /** POSTs to the FCM token endpoint (each JWT exchange), since start or `reset()`. */
    get tokenRequests() { return state.tokenRequests; },
    /**
     * Makes deliveries of `provider` to `to` (`'*'`: any recipient) answer `status` (an HTTP
     * status, or for Vonage 'vonage-rejected' / 'vonage-throttled': HTTP 200 with message status
     * "4" / "1") `times` times, then succeed. `reason` overrides the APNs reason or FCM errorCode.
     */
    failFor(provider, to, { status, times = Infinity, reason } = {}) {
      if (!providers[provider] || provider === 'fcm-token') throw new Error(`unknown provider ${provider}`);
      const vonageVerdict = provider === 'vonage' && (status === 'vonage-rejected' || status === 'vonage-throttled');
      if (!vonageVerdict && !(Number.isInteger(status) && status >= 400 && status <= 599)) throw new Error(`failFor: status ${status} is not a 4xx/5xx (or a Vonage verdict)`);
      const key = `${provider}\n${to === '*' ? '*' : recipientKey(provider, to)}`;
      rules.set(key, { status, reason, remaining: times });
    },
    /**
     * Makes deliveries of `provider` to `to` (`'*'`: any recipient) wait `ms` before their
     * answer, `times` times. Each is recorded as it arrives; `answeredAt` is set when answered.
     */
    slowFor(provider, to, { ms, times = Infinity } = {}) {
      if (!providers[provider] || provider === 'fcm-token') throw new Error(`unknown provider ${provider}`);
      if (!(Number.isInteger(ms) && ms > 0)) throw new Error(`slowFor: ms ${ms} is not a positive integer`);
      holds.set(`${provider}\n${to === '*' ? '*' : recipientKey(provider, to)}`, { ms, remaining: times });
    },
    /** Delivered (answered with success) requests of `provider` to `to`. */
    deliveredTo: (provider, to) => matching(requests, provider, to),
    /** Well-formed requests of `provider` to `to` that a `failFor` rule failed. */
    failedTo: (provider, to) => matching(failures, provider, to),
    /**
     * Waits until `count` deliveries (or with `failed: true`, injected failures) of `provider`
     * to `to` are recorded; resolves to them.
     */
    async waitFor(provider, to, { count = 1, timeout = 10_000, failed = false } = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const found = matching(failed ? failures : requests, provider, to);
        if (found.length >= count) return found;
        if (Date.now() > deadline) {
          const why = rejected.length ? `; rejected: ${rejected.map((r) => `${r.provider} ${r.status} ${r.reason.split('\n')[0]}`).join(' | ')}` : '';
          throw new Error(`${provider}: ${found.length} of ${count} ${failed ? 'failures' : 'deliveries'} to ${to} in ${timeout} ms${why}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    /** Forgets requests, failures, rejections, failure and delay rules and the token count (issued tokens stay valid). */
    reset() {
      requests.length = 0;
      failures.length = 0;
      rejected.length = 0;
      rules.clear();
      holds.clear();
      state.tokenRequests = 0;
    },
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    }),
  };
}
