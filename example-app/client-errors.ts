import type { Server } from 'node:http';

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Node's HTTP parser answers malformed requests and oversized headers itself, before Express
 * sees them, with an empty plain-text answer. This makes those answers JSON too, as every other
 * error of the app (431 `request.headers_too_large`, 408, 400 `request.malformed`).
 */
export function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // As Node's own handler: no answer into a socket that is gone or already sending a response
    // (a bad request pipelined after a good one).
    const inFlight = (socket as typeof socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const code = status === 431 ? 'request.headers_too_large' : status === 408 ? 'request.timeout' : 'request.malformed';
    const body = JSON.stringify({ code, message: STATUS_TEXT[status] });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
}
