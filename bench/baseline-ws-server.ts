// The baseline of the push-delivery scenario: a bare `ws` WebSocket server on node:http, configured as Tessera's
// (perMessageDeflate off, maxPayload 64 KB), with no framework, no authentication, no database, no bus.
//
//   GET  /bare            → {"ok":true} (readiness)
//   WS   /ws?id=<n>       a client; every message it sends is echoed back to it
//   POST /push?id=<n>     sends the request body as a text message to client n, then answers 201 {"ok":true}
//   GET  /wait?key=<k>    held until POST /wake?key=<k>, then answers 200 with that request's body
//   POST /wake?key=<k>    answers the held GET /wait?key=<k>, then itself 200 {"ok":true} (404 if none waits)
//
// Per client the server keeps only the `ws` socket (in ws's own client set and in one Map entry by id).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const clients = new Map<string, WebSocket>();
const waiting = new Map<string, ServerResponse>();

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function json(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'GET' && url.pathname === '/bare') return json(response, 200, '{"ok":true}');
  if (request.method === 'GET' && url.pathname === '/wait') {
    const key = url.searchParams.get('key') ?? '';
    waiting.set(key, response);
    response.on('close', () => {
      if (waiting.get(key) === response) waiting.delete(key);
    });
    return;
  }
  if (request.method === 'POST' && (url.pathname === '/push' || url.pathname === '/wake')) {
    readBody(request).then(
      (body) => {
        if (url.pathname === '/push') {
          const client = clients.get(url.searchParams.get('id') ?? '');
          if (!client) return json(response, 404, '{"error":"no such client"}');
          client.send(body);
          return json(response, 201, '{"ok":true}');
        }
        const key = url.searchParams.get('key') ?? '';
        const waiter = waiting.get(key);
        if (!waiter) return json(response, 404, '{"error":"nobody waits"}');
        waiting.delete(key);
        json(waiter, 200, body);
        json(response, 200, '{"ok":true}');
      },
      () => json(response, 400, '{"error":"bad body"}'),
    );
    return;
  }
  json(response, 404, '{"error":"not found"}');
});

const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (socket, request) => {
  const id = new URL(request.url ?? '/', 'http://localhost').searchParams.get('id') ?? '';
  clients.set(id, socket);
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('close', () => {
    if (clients.get(id) === socket) clients.delete(id);
  });
  socket.on('error', () => socket.terminate());
});

await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', resolve));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  });
}
