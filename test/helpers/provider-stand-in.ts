import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the two delivery APIs, so tests can send through the
 * real @sendgrid/mail and twilio SDKs (pointed at it with `apiBaseUrl`) and look
 * at exactly what they put on the wire.
 *
 *   SendGrid  POST /v3/mail/send                               → 202, empty body
 *   Twilio    POST /2010-04-01/Accounts/:sid/Messages.json     → 201, a message resource
 *
 * Anything else is recorded as provider 'unknown' and answered 404.
 */

export type Provider = 'sendgrid' | 'twilio';

/**
 * How a provider answers: `'accept'` (the normal success), `'hang'` (read the
 * request, never answer — for timeout tests) or an HTTP status to fail with.
 */
export type StandInMode = 'accept' | 'hang' | number;

/** The JSON body @sendgrid/mail posts to /v3/mail/send (the parts tests look at). */
export interface SendgridMailBody {
  readonly from?: { email: string; name?: string };
  readonly subject?: string;
  readonly template_id?: string;
  readonly personalizations?: ReadonlyArray<{
    readonly to?: ReadonlyArray<{ email: string; name?: string }>;
    readonly dynamic_template_data?: Record<string, unknown>;
  }>;
  readonly content?: ReadonlyArray<{ type: string; value: string }>;
  readonly [key: string]: unknown;
}

interface RecordedBase {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Node's lower-cased header map. */
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** How the stand-in answered: a status, or 'hang'. */
  readonly answeredWith: number | 'hang';
}

/** One request the stand-in received, with its body parsed per provider. */
export type RecordedRequest =
  | (RecordedBase & { readonly provider: 'sendgrid'; readonly body: SendgridMailBody })
  | (RecordedBase & {
      readonly provider: 'twilio';
      readonly accountSid: string;
      /** The urlencoded form, first value of each field (To, From, Body, MessagingServiceSid…). */
      readonly body: Readonly<Record<string, string>>;
    })
  | (RecordedBase & { readonly provider: 'unknown'; readonly body: string });

export interface ProviderStandIn {
  /** `http://127.0.0.1:<port>`: pass it as `apiBaseUrl` to either sender. */
  readonly url: string;
  /** Every request so far, oldest first (a live array). */
  readonly requests: RecordedRequest[];
  /** The requests one provider received, oldest first. */
  requestsFor<P extends Provider>(provider: P): Array<Extract<RecordedRequest, { provider: P }>>;
  /** How `provider` answers from now on (until changed or `reset`). Default 'accept'. */
  setMode(provider: Provider, mode: StandInMode): void;
  /** The next request to `provider` gets `mode` (default a 500); later ones follow `setMode` again. */
  failNext(provider: Provider, mode?: Exclude<StandInMode, 'accept'>): void;
  /** Forgets the recorded requests and puts both providers back to 'accept'. */
  reset(): void;
  /** Stops listening and drops every open connection, hanging ones included. */
  close(): Promise<void>;
}

const SENDGRID_PATH = '/v3/mail/send';
const TWILIO_MESSAGES_PATH = /^\/2010-04-01\/Accounts\/(AC[A-Za-z0-9]+)\/Messages\.json$/;

export async function startProviderStandIn(): Promise<ProviderStandIn> {
  const requests: RecordedRequest[] = [];
  const modes: Record<Provider, StandInMode> = { sendgrid: 'accept', twilio: 'accept' };
  const oneShot: Record<Provider, StandInMode[]> = { sendgrid: [], twilio: [] };

  const modeFor = (provider: Provider): StandInMode => oneShot[provider].shift() ?? modes[provider];

  const server = createServer((req, res) => {
    void readBody(req).then(
      (rawBody) => handle(req, res, rawBody),
      () => res.destroy(),
    );
  });

  function handle(req: IncomingMessage, res: ServerResponse, rawBody: string): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const base = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, rawBody };
    const twilioMatch = TWILIO_MESSAGES_PATH.exec(url.pathname);

    if (req.method === 'POST' && url.pathname === SENDGRID_PATH) {
      const mode = modeFor('sendgrid');
      requests.push({ ...base, provider: 'sendgrid', body: parseJson(rawBody), answeredWith: answered(mode, 202) });
      if (mode === 'hang') return;
      if (mode === 'accept') return void res.writeHead(202).end();
      return json(res, mode, { errors: [{ message: `stand-in failure ${mode}`, field: null, help: null }] });
    }

    if (req.method === 'POST' && twilioMatch) {
      const accountSid = twilioMatch[1] ?? '';
      const form = parseForm(rawBody);
      const mode = modeFor('twilio');
      requests.push({ ...base, provider: 'twilio', accountSid, body: form, answeredWith: answered(mode, 201) });
      if (mode === 'hang') return;
      if (mode === 'accept') return json(res, 201, twilioMessage(accountSid, form));
      return json(res, mode, {
        code: 20500,
        message: `stand-in failure ${mode}`,
        more_info: 'https://www.twilio.com/docs/errors/20500',
        status: mode,
      });
    }

    requests.push({ ...base, provider: 'unknown', body: rawBody, answeredWith: 404 });
    json(res, 404, { message: 'The stand-in plays only SendGrid mail/send and Twilio Messages.json' });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsFor<P extends Provider>(provider: P) {
      return requests.filter((r): r is Extract<RecordedRequest, { provider: P }> => r.provider === provider);
    },
    setMode(provider, mode) {
      modes[provider] = mode;
    },
    failNext(provider, mode = 500) {
      oneShot[provider].push(mode);
    },
    reset() {
      requests.length = 0;
      modes.sendgrid = modes.twilio = 'accept';
      oneShot.sendgrid.length = oneShot.twilio.length = 0;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // close() alone waits for hanging requests and keep-alive sockets.
        server.closeAllConnections();
      });
    },
  };
}

/**
 * The 6-digit code carried by a recorded request: SendGrid's text/plain content
 * (else html, else dynamic template data), Twilio's Body. Throws when there is none.
 */
export function extractCode(request: RecordedRequest): string {
  const found = /\b(\d{6})\b/.exec(messageText(request))?.[1];
  if (found === undefined) throw new Error(`No 6-digit code in the ${request.provider} request to ${request.path}`);
  return found;
}

/** The destination of a recorded request: SendGrid's first `to` address, Twilio's `To`. */
export function recipientOf(request: RecordedRequest): string | undefined {
  if (request.provider === 'sendgrid') return request.body.personalizations?.[0]?.to?.[0]?.email;
  if (request.provider === 'twilio') return request.body.To;
  return undefined;
}

/** The code in the latest request addressed to `to` (an email or E.164 number). Throws when there is none. */
export function lastCodeSentTo(standIn: Pick<ProviderStandIn, 'requests'>, to: string): string {
  const wanted = to.toLowerCase();
  for (let i = standIn.requests.length - 1; i >= 0; i--) {
    const request = standIn.requests[i];
    if (request && recipientOf(request)?.toLowerCase() === wanted) return extractCode(request);
  }
  throw new Error(`No message to ${to} was recorded`);
}

function messageText(request: RecordedRequest): string {
  switch (request.provider) {
    case 'twilio':
      return request.body.Body ?? '';
    case 'sendgrid': {
      const content = request.body.content ?? [];
      const text = content.find((c) => c.type === 'text/plain') ?? content.find((c) => c.type === 'text/html');
      if (text) return text.value;
      const data = request.body.personalizations?.[0]?.dynamic_template_data;
      return typeof data?.code === 'string' ? data.code : '';
    }
    default:
      return '';
  }
}

function answered(mode: StandInMode, success: number): number | 'hang' {
  return mode === 'accept' ? success : mode;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(raw: string): SendgridMailBody {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null ? (value as SendgridMailBody) : {};
  } catch {
    return {};
  }
}

function parseForm(raw: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (!(key in form)) form[key] = value;
  }
  return form;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

/** A message resource shaped like Twilio's, with every field MessageInstance reads. */
function twilioMessage(accountSid: string, form: Readonly<Record<string, string>>): Record<string, unknown> {
  const sid = `SM${randomBytes(16).toString('hex')}`;
  const now = new Date().toUTCString().replace('GMT', '+0000');
  return {
    account_sid: accountSid,
    api_version: '2010-04-01',
    body: form.Body ?? '',
    date_created: now,
    date_sent: null,
    date_updated: now,
    direction: 'outbound-api',
    error_code: null,
    error_message: null,
    from: form.From ?? null,
    messaging_service_sid: form.MessagingServiceSid ?? null,
    num_media: '0',
    num_segments: '1',
    price: null,
    price_unit: 'USD',
    sid,
    status: form.MessagingServiceSid && !form.From ? 'accepted' : 'queued',
    subresource_uris: {
      media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json`,
      feedback: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Feedback.json`,
    },
    to: form.To ?? '',
    uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
  };
}
