import { z } from 'zod';
import { endpointsFor, ROUTER_ERRORS, type Features, type RouterEndpoint } from './endpoints';
import { ERROR_STATUS, type ErrorCode } from './errors';
import { actionSchema } from './action';
import { errorBody, errorBodyOf, identifierSchema, recordAnswer, requirementSchema } from './http/schemas';

/** A JSON object of the OpenAPI document. */
export type OpenApiObject = { [key: string]: unknown };

/** An OpenAPI 3.1 document (only its top level is typed; see the specification for the rest). */
export interface OpenApiDocument extends OpenApiObject {
  openapi: '3.1.0';
  info: OpenApiInfo;
  paths: Record<string, OpenApiObject>;
  components: OpenApiObject;
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

export interface OpenApiOptions {
  /** Where the router is mounted, e.g. `/api/verifications`: the prefix of every path. Default '' (the root, also '/'). */
  basePath?: string;
  /** The guard's header, for the `VerificationId` parameter component. Default `Verification-Id`. */
  verificationHeader?: string;
  /** The document's `info`. Default: a title and description of the verification endpoints, version '1'. */
  info?: OpenApiInfo;
  /** Which optional factors' endpoints to document (createStepUp's `openapi()` passes its own). Default: none. */
  features?: Partial<Features>;
}

/** '' or `/segment/segment`: no trailing slash, query, fragment or `{template}`. */
const BASE_PATH = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/;
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

const SCHEMA_REF = '#/components/schemas/';
const schemaRef = (name: string) => ({ $ref: `${SCHEMA_REF}${name}` });
const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });
const errorSchemaName = (code: ErrorCode) => `Error.${code}`;

/** The answer headers, as components. Only their presence and simple value shapes are documented. */
const HEADERS: Record<string, OpenApiObject> = {
  'Cache-Control': {
    description: 'Always `no-store`: no answer of the verification endpoints or the guard is cached.',
    required: true,
    schema: { type: 'string', const: 'no-store' },
  },
  'WWW-Authenticate': {
    description: 'The authentication challenge, e.g. `Bearer realm="express-step-up"`.',
    required: true,
    schema: { type: 'string', minLength: 1 },
  },
  'Retry-After': {
    description: 'Seconds to wait before trying again.',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
  RateLimit: {
    description:
      'IETF RateLimit header (draft 8) of the limit this request counted against, e.g. `"password_failures";r=4;t=900`. ' +
      'Absent on counters shared by all users, whose state would tell one user about others.',
    required: false,
    schema: { type: 'string', minLength: 1 },
  },
  'RateLimit-Policy': {
    description: 'IETF RateLimit-Policy header (draft 8) of that limit, e.g. `"password_failures";q=5;w=900`.',
    required: false,
    schema: { type: 'string', minLength: 1 },
  },
  Allow: {
    description: 'The methods this path answers, e.g. `POST`.',
    required: true,
    schema: { type: 'string', minLength: 1 },
  },
};

/** Headers of an answer by status, beside `Cache-Control` (and the rate-limit headers on the router). */
const HEADERS_BY_STATUS: Record<number, readonly string[]> = {
  401: ['WWW-Authenticate'],
  405: ['Allow'],
};

/**
 * The codes the rate limiters answer (lib/rate-limit/limiters.ts), always with `Retry-After`. Other
 * 429s (`verification_code.exceed_max_try`: the record is dead, waiting does not help) carry none.
 */
const RATE_LIMIT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'request.rate_limited',
  'verification.too_many_attempts',
  'verification_code.rate_limited',
]);

type Answerer = 'router' | 'guard';

function headersOf(status: number, by: Answerer, codes: readonly ErrorCode[] = []): OpenApiObject {
  const names = ['Cache-Control', ...(HEADERS_BY_STATUS[status] ?? []), ...(by === 'router' ? ['RateLimit', 'RateLimit-Policy'] : [])];
  const headers: OpenApiObject = Object.fromEntries(names.map((name) => [name, headerRef(name)]));
  const limited = codes.filter((code) => RATE_LIMIT_CODES.has(code));
  if (limited.length === codes.length && limited.length > 0) headers['Retry-After'] = headerRef('Retry-After');
  else if (limited.length > 0) {
    headers['Retry-After'] = { ...HEADERS['Retry-After'], required: false, description: `Seconds to wait before trying again, with ${codeList(limited)}.` };
  }
  return headers;
}

const codeList = (codes: readonly ErrorCode[]) => codes.map((code) => `\`${code}\``).join(', ');

/** One error answer: its codes (all of one status), each with its exact body schema. */
function errorResponse(codes: readonly ErrorCode[], by: Answerer): OpenApiObject {
  const status = ERROR_STATUS[codes[0] as ErrorCode];
  const schema = codes.length === 1 ? schemaRef(errorSchemaName(codes[0] as ErrorCode)) : { oneOf: codes.map((code) => schemaRef(errorSchemaName(code))) };
  return {
    description: `${codes.length === 1 ? 'Error' : 'One of the errors'} ${codeList(codes)}.`,
    headers: headersOf(status, by, codes),
    content: { 'application/json': { schema } },
  };
}

/** The codes grouped by their status in `ERROR_STATUS`, in order of status. */
function byStatus(codes: readonly ErrorCode[]): Array<[number, ErrorCode[]]> {
  const groups = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERROR_STATUS[code];
    groups.set(status, [...(groups.get(status) ?? []), code]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b);
}

function operation(endpoint: RouterEndpoint, path: string, basePath: string): OpenApiObject {
  const alias = path !== endpoint.path;
  const { success } = endpoint;
  const responses: OpenApiObject = {
    [success.status]: {
      description: success.description,
      headers: headersOf(success.status, 'router'),
      ...('schema' in success ? { content: { 'application/json': { schema: schemaRef(success.name) } } } : {}),
    },
  };
  for (const [status, codes] of byStatus([...ROUTER_ERRORS, ...endpoint.errors])) responses[status] = errorResponse(codes, 'router');
  return {
    operationId: alias ? `${endpoint.operationId}Alias${endpoint.aliases.indexOf(path) + 1}` : endpoint.operationId,
    summary: alias ? `${endpoint.summary} (alias of ${endpoint.method.toUpperCase()} ${basePath}${endpoint.path})` : endpoint.summary,
    description: endpoint.description,
    tags: ['Step-up verification'],
    security: [{ bearerAuth: [] }],
    ...(endpoint.takesVerificationId ? { parameters: [{ $ref: '#/components/parameters/VerificationId' }] } : {}),
    ...(endpoint.body !== undefined ? { requestBody: { required: true, content: { 'application/json': { schema: schemaRef(endpoint.body.name) } } } } : {}),
    responses,
  };
}

/**
 * The component schemas, converted by zod's own `z.toJSONSchema` (JSON Schema 2020-12, the dialect
 * of OpenAPI 3.1). Request bodies are converted as zod *inputs* (unknown fields are dropped, not
 * refused, so none is forbidden), answers as *outputs* (exactly the fields sent). Component names
 * come from private registries, so nothing is added to zod's global registry.
 */
function componentSchemas(endpoints: readonly RouterEndpoint[]): Record<string, OpenApiObject> {
  const requests = z.registry<{ id: string }>();
  requests.add(identifierSchema, { id: 'Identifier' });
  for (const { body } of endpoints) if (body !== undefined && !requests.has(body.schema)) requests.add(body.schema, { id: body.name });

  const answers = z.registry<{ id: string }>();
  answers.add(errorBody, { id: 'ErrorBody' });
  answers.add(requirementSchema, { id: 'VerificationRequirement' });
  answers.add(actionSchema, { id: 'RequiredAction' });
  answers.add(recordAnswer, { id: 'VerificationRecordAnswer' });
  for (const { success } of endpoints) if ('schema' in success && !answers.has(success.schema)) answers.add(success.schema, { id: success.name });
  for (const code of Object.keys(ERROR_STATUS) as ErrorCode[]) answers.add(errorBodyOf(code), { id: errorSchemaName(code) });

  const convert = (registry: typeof requests, io: 'input' | 'output') =>
    z.toJSONSchema(registry, { io, uri: (id) => `${SCHEMA_REF}${id}`, unrepresentable: 'throw' }).schemas;
  const schemas: Record<string, OpenApiObject> = {};
  for (const [name, schema] of Object.entries({ ...convert(requests, 'input'), ...convert(answers, 'output') })) {
    // A schema zod could not name would be referenced through `__shared`, which OpenAPI cannot resolve.
    if (name === '__shared') throw new Error('openapi: a schema is shared between components without a name');
    // zod marks each as a standalone document ($schema, and an $id that is the component's own
    // pointer); inside an OpenAPI 3.1 document the dialect is the document's, and $id is not needed.
    const { $schema: _dialect, $id: _id, ...rest } = schema as OpenApiObject;
    schemas[name] = rest;
  }
  return schemas;
}

function checkOptions(options: OpenApiOptions): { basePath: string; header: string } {
  // '/' is the root, like ''; any other path has no trailing slash.
  const basePath = options.basePath === '/' ? '' : (options.basePath ?? '');
  if (typeof basePath !== 'string' || !BASE_PATH.test(basePath)) {
    throw new TypeError("express-step-up: openapi basePath must be '' or a path like '/api/verifications' (no trailing slash, query or {template})");
  }
  const header = options.verificationHeader ?? 'Verification-Id';
  if (!HEADER_NAME.test(header)) throw new TypeError('express-step-up: openapi verificationHeader must be a valid header name');
  return { basePath, header };
}

/**
 * The OpenAPI 3.1 document of the verification router mounted at `basePath`, generated from the
 * zod schemas that validate its requests and from the endpoint table: every request body, every
 * answer with its codes and headers, and reusable components for the app's guarded routes
 * (`parameters.VerificationId`, `responses.Unauthorized`, `VerificationRefused`,
 * `VerificationUnavailable`). Built anew on each call, so it follows the schemas.
 */
export function openApiDocument(options: OpenApiOptions = {}): OpenApiDocument {
  const { basePath, header } = checkOptions(options);
  const paths: Record<string, OpenApiObject> = {};
  const endpoints = endpointsFor({ passkeys: options.features?.passkeys === true, totp: options.features?.totp === true });
  for (const endpoint of endpoints) {
    for (const path of [endpoint.path, ...endpoint.aliases]) {
      paths[`${basePath}${path}`] = { ...paths[`${basePath}${path}`], [endpoint.method]: operation(endpoint, path, basePath) };
    }
  }
  return {
    openapi: '3.1.0',
    info: options.info ?? {
      title: 'Step-up verification',
      version: '1',
      description:
        'Step-up re-authentication (password, one-time codes by email or SMS) by express-step-up. Every error is ' +
        'JSON `{ code, message, ...details }`; every answer carries `Cache-Control: no-store`. A path under ' +
        `\`${basePath || '/'}\` that is not listed answers \`responses/NotFound\`; a listed path asked with another ` +
        'method answers `responses/MethodNotAllowed`. Guarded routes of the app take `parameters/VerificationId` and ' +
        'answer `responses/Unauthorized`, `responses/VerificationRefused` and `responses/VerificationUnavailable`.',
    },
    tags: [{ name: 'Step-up verification', description: 'Verify the user again before a sensitive action.' }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'The user\'s access token. A missing, invalid or expired token is 401 `auth.unauthorized` with `WWW-Authenticate`.',
        },
      },
      parameters: {
        VerificationId: {
          name: header,
          in: 'header',
          required: true,
          description:
            'The `verificationRecordId` of a verified record, for a route guarded by `requireVerification()`. ' +
            'Without it the guard answers 403 `verification.required`.',
          schema: { type: 'string', minLength: 1 },
        },
      },
      headers: HEADERS,
      responses: {
        Unauthorized: errorResponse(['auth.unauthorized'], 'guard'),
        VerificationRefused: {
          ...errorResponse(['verification.required', 'verification.invalid', 'verification.insufficient', 'verification.no_available_method'], 'guard'),
          description:
            'The guard refused: no record id (`verification.required`), an unknown, expired, consumed or another ' +
            'user\'s record (`verification.invalid`), or a record of another method or older than `maxAge` ' +
            '(`verification.insufficient`). `requirement` tells what to ask the user for: its `methods` are the ' +
            'route\'s methods this user can use now. When the user can use none of them, the refusal is ' +
            '`verification.no_available_method` (send the user to sign in again, or to add a method).',
        },
        VerificationUnavailable: {
          ...errorResponse(['verification.unavailable'], 'guard'),
          description: 'The verification store cannot be reached: the guard fails closed.',
        },
        NotFound: errorResponse(['request.not_found'], 'router'),
        MethodNotAllowed: errorResponse(['request.method_not_allowed'], 'router'),
      },
      schemas: componentSchemas(endpoints),
    },
  };
}
