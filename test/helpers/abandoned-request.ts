import { request as httpRequest } from 'node:http';
import { bearer } from './harness';

/**
 * POSTs a JSON body as alice to a local server, then hangs up after 50 ms without waiting for the
 * answer: a client that gives up (a timeout, a closed tab) while the server is still working.
 */
export function abandonedPost(port: number, path: string, body: object): Promise<void> {
  return new Promise<void>((resolve) => {
    const text = JSON.stringify(body);
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), authorization: bearer('usr_alice') },
    });
    req.on('error', () => resolve());
    req.end(text);
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 50);
  });
}
