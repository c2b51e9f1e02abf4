// The baseline of every benchmark: a bare Fastify route, no hooks, no logger, no schema; and a bare
// WebSocket route (the same plugin and options as Tessera's) that sends one message and waits.
import websocket from '@fastify/websocket';
import Fastify from 'fastify';

const app = Fastify({ logger: false });
await app.register(websocket, { options: { maxPayload: 64 * 1024, perMessageDeflate: false } });
app.get('/bare', async () => ({ ok: true }));
app.get('/bare-ws', { websocket: true }, (socket) => socket.send('{"ok":true}'));

await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
