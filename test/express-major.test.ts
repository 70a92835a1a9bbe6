import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { createStepUp, jwtAuthenticator } from '../lib/index';
import { expressMajorUnderTest, loadedExpressMajor } from './helpers/express-major';
import { bearer, JWT_SECRET, UNLIMITED } from './helpers/harness';

/**
 * Each Jest project really runs on its Express major: the tests' `express`, and the library's own
 * `express.Router()`. Express 5 passes a rejected promise from a handler to the error handlers;
 * Express 4 ignores it (which is why the library wraps its async middleware in asyncHandler).
 */
describe(`the Express ${String(globalThis.EXPRESS_MAJOR_UNDER_TEST)} project`, () => {
  /** A handler whose promise rejects (caught here, so no unhandled rejection), then answers 200 unless an error handler answered first. */
  const rejectingHandler: express.RequestHandler = (_req, res) => {
    const rejected = Promise.reject(new Error('probe'));
    rejected.catch(() => undefined);
    setTimeout(() => void (res.headersSent || res.status(200).send('the rejection was ignored')), 20);
    return rejected;
  };
  const errorHandler: express.ErrorRequestHandler = (_error, _req, res, _next) => void res.status(500).send('passed to the error handler');
  const expectedStatus = () => (expressMajorUnderTest() === 5 ? 500 : 200);

  test('express/package.json is the major this project is for', () => {
    expect(loadedExpressMajor()).toBe(expressMajorUnderTest());
  });

  test("the tests' express() behaves as that major", async () => {
    const app = express();
    app.get('/probe', rejectingHandler);
    app.use(errorHandler);
    expect((await request(app).get('/probe')).status).toBe(expectedStatus());
  });

  test("the library's express.Router() behaves as that major", async () => {
    const stepUp = createStepUp({
      authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
      users: { findById: () => null },
      sender: { send: async () => undefined },
      limits: UNLIMITED,
    });
    // The Router the library built with its own `express` import is the one this project's express makes
    // (the router answers JSON 404 for anything it has no route for, so no probe route can be added after it).
    const handleOf = (router: unknown) => (router as { handle: unknown }).handle;
    expect(handleOf(stepUp.router)).toBe(handleOf(express.Router()));
  });

  test('every test file that uses express or supertest runs on Express 4 too', () => {
    const config = require('../jest.config.js') as { projects: Array<{ displayName: { name: string }; testMatch: string[] }> };
    const express4 = config.projects.find((project) => project.displayName.name === 'express 4');
    const listed = new Set(express4?.testMatch.map((pattern) => path.basename(pattern)));
    const speaksHttp = readdirSync(__dirname)
      .filter((file) => file.endsWith('.test.ts'))
      .filter((file) => /from 'supertest'|import\('express'\)|from 'express'|helpers\/(harness|example)'/.test(readFileSync(path.join(__dirname, file), 'utf8')));
    expect(speaksHttp.length).toBeGreaterThan(5);
    expect(speaksHttp.filter((file) => !listed.has(file))).toEqual([]);
  });
});
