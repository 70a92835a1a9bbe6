import http from 'node:http';
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcrypt';
import { MemoryStore, type StepUpUser } from '../lib/index';
import { accessToken, startApp } from './app';
import { median, round } from './stats';

export interface BcryptCase {
  readonly name: string;
  readonly samples: number;
  readonly status: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export interface BcryptResult {
  readonly cost: number;
  readonly cases: readonly BcryptCase[];
  /** Median(no password) − median(wrong password). Reported, not asserted. */
  readonly medianDifferenceMs: number;
}

const COST = 10;

function postPassword(port: number, userId: string, password: string): Promise<{ status: number; ms: number }> {
  const body = JSON.stringify({ password });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v/password',
        agent: false,
        headers: {
          authorization: `Bearer ${accessToken(userId)}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/**
 * Time of POST /v/password for a wrong password vs a user without a password
 * (checked against a dummy hash of the same cost). Requests alternate between
 * the two so that drift affects both alike.
 */
export async function runBcryptBench(samples: number): Promise<BcryptResult> {
  const users = new Map<string, StepUpUser>([
    ['usr_with_password', { id: 'usr_with_password', passwordHash: await bcrypt.hash('the-right-password-123', COST), email: null, phone: null }],
    ['usr_without_password', { id: 'usr_without_password', passwordHash: null, email: null, phone: null }],
  ]);
  const app = await startApp(new MemoryStore(), users);
  try {
    const cases = [
      { name: 'wrong password', userId: 'usr_with_password', times: [] as number[], statuses: new Set<number>() },
      { name: 'user without password', userId: 'usr_without_password', times: [] as number[], statuses: new Set<number>() },
    ];
    for (let sample = -2; sample < samples; sample += 1) {
      for (const c of cases) {
        const { status, ms } = await postPassword(app.port, c.userId, 'not-the-password-456');
        if (sample < 0) continue; // warm-up (the dummy hash, the first connections)
        c.times.push(ms);
        c.statuses.add(status);
      }
    }
    const results = cases.map((c): BcryptCase => {
      if (c.statuses.size !== 1 || !c.statuses.has(422)) throw new Error(`${c.name}: expected only 422, got ${[...c.statuses].join(', ')}`);
      return {
        name: c.name,
        samples: c.times.length,
        status: 422,
        medianMs: round(median(c.times), 2),
        minMs: round(Math.min(...c.times), 2),
        maxMs: round(Math.max(...c.times), 2),
      };
    });
    return {
      cost: COST,
      cases: results,
      medianDifferenceMs: round((results[1]?.medianMs ?? 0) - (results[0]?.medianMs ?? 0), 2),
    };
  } finally {
    await app.close();
  }
}
