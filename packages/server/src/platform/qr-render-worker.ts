import { parentPort } from 'node:worker_threads';
import { qrDataUrl } from './qr-code.ts';

/** The worker thread of QrRenderer: draws each batch of texts it is sent, and answers with their data URLs. */
parentPort?.on('message', ({ id, texts }: { id: number; texts: string[] }) => {
  try {
    parentPort?.postMessage({ id, urls: texts.map((text) => qrDataUrl(text)) });
  } catch (error) {
    parentPort?.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
