import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type request from 'supertest';
import type { OpenApiDocument, OpenApiObject } from '../../lib/index';

/**
 * Validates a document with @seriousme/openapi-schema-validator (the OpenAPI 3.1 schema, and the
 * 2020-12 dialect for its Schema Objects). The package is ESM only, which ts-jest's CommonJS
 * modules cannot load, so its own command line runs in a child `node`.
 */
export async function validateOpenApi(document: unknown): Promise<{ valid: boolean; errors?: unknown }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'openapi-'));
  const file = path.join(dir, 'openapi.json');
  try {
    await writeFile(file, JSON.stringify(document));
    const cli = path.join(path.dirname(require.resolve('@seriousme/openapi-schema-validator/package.json')), 'bin/validate-api-cli.js');
    // The command exits 1 on an invalid document, with the same JSON report on stdout.
    const { stdout } = await promisify(execFile)(process.execPath, [cli, file]).catch((error: { stdout?: string }) => ({
      stdout: error.stdout ?? '',
    }));
    return JSON.parse(stdout) as { valid: boolean; errors?: unknown };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const pointer = (segments: readonly string[]) =>
  `#/${segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;

/**
 * Checks real answers against a document: the status is documented, every required header is
 * there and every documented header present has a value of its schema, and the body validates
 * (ajv, JSON Schema 2020-12, formats checked) against the documented schema.
 * It records which (operation, status, code) were seen, for `unseen()`.
 */
export class AnswerChecker {
  readonly #ajv: Ajv2020;
  readonly #seen = new Set<string>();

  constructor(readonly document: OpenApiDocument) {
    // Not strict: the document holds OpenAPI keywords (paths, info, …) beside its JSON Schemas.
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.#ajv);
    this.#ajv.addSchema(document as object, 'openapi.json');
  }

  /** An answer of `method path` (the document's path, basePath included). */
  operationAnswer(res: request.Response, method: string, docPath: string): void {
    const operation = (this.document.paths[docPath] as Record<string, OpenApiObject> | undefined)?.[method];
    if (!operation) throw new Error(`${method.toUpperCase()} ${docPath} is not in the document`);
    const responses = operation.responses as Record<string, OpenApiObject>;
    const status = String(res.status);
    if (!responses[status]) {
      throw new Error(`${method.toUpperCase()} ${docPath} answered ${status} ${JSON.stringify(res.body)}, which its documentation does not list`);
    }
    this.#check(res, ['paths', docPath, method, 'responses', status], `${operation.operationId as string} ${status}`);
    this.#seen.add(`${operation.operationId as string} ${status} ${(res.body as { code?: string }).code ?? ''}`.trim());
  }

  /** An answer that must be the component `responses/<name>` (with its status). */
  componentAnswer(res: request.Response, name: string, status: number): void {
    expect(res.status).toBe(status);
    this.#check(res, ['components', 'responses', name], `responses/${name}`);
  }

  /** Every documented (operation, status, code) that no `operationAnswer` has seen. */
  unseen(): string[] {
    const missing: string[] = [];
    for (const item of Object.values(this.document.paths)) {
      for (const operation of Object.values(item as Record<string, OpenApiObject>)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, OpenApiObject>)) {
          const codes = this.#documentedCodes(response);
          const keys = codes.length === 0 ? [`${operation.operationId as string} ${status}`] : codes.map((code) => `${operation.operationId as string} ${status} ${code}`);
          missing.push(...keys.filter((key) => !this.#seen.has(key)));
        }
      }
    }
    return missing;
  }

  #check(res: request.Response, at: readonly string[], label: string): void {
    const response = this.#resolve(this.#at(at));
    for (const [name, headerOrRef] of Object.entries((response.headers ?? {}) as Record<string, OpenApiObject>)) {
      const header = this.#resolve(headerOrRef);
      const value = res.headers[name.toLowerCase()] as string | undefined;
      if (value === undefined) {
        if (header.required === true) throw new Error(`${label}: the required header ${name} is missing`);
        continue;
      }
      const schema = header.schema as OpenApiObject;
      const typed = schema.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value;
      if (!this.#ajv.validate(schema, typed)) throw new Error(`${label}: header ${name}: ${value} does not match ${JSON.stringify(schema)}`);
    }
    const content = response.content as Record<string, OpenApiObject> | undefined;
    if (content === undefined) return;
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const validate = this.#ajv.getSchema(`openapi.json${pointer([...at, 'content', 'application/json', 'schema'])}`);
    if (!validate) throw new Error(`${label}: no schema`);
    if (!validate(res.body)) {
      throw new Error(`${label}: the body ${JSON.stringify(res.body)} does not match: ${this.#ajv.errorsText(validate.errors)}`);
    }
  }

  #at(segments: readonly string[]): OpenApiObject {
    let value: unknown = this.document;
    for (const segment of segments) value = (value as OpenApiObject)[segment];
    return value as OpenApiObject;
  }

  #resolve(value: OpenApiObject): OpenApiObject {
    const ref = value.$ref;
    if (typeof ref !== 'string') return value;
    return this.#at(ref.replace(/^#\//, '').split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')));
  }

  /** The `code` constants of an error answer's schema (none for a success). */
  #documentedCodes(response: OpenApiObject): string[] {
    const schema = (response.content as Record<string, OpenApiObject> | undefined)?.['application/json']?.schema as OpenApiObject | undefined;
    if (!schema) return [];
    const refs = (schema.oneOf as OpenApiObject[] | undefined) ?? [schema];
    return refs.flatMap((ref) => {
      const code = ((this.#resolve(ref).properties as Record<string, OpenApiObject> | undefined)?.code as OpenApiObject | undefined)?.const;
      return typeof code === 'string' ? [code] : [];
    });
  }
}
