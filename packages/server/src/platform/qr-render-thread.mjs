// The entry of QrRenderer's worker thread: a worker does not inherit the parent's module hooks, so it registers
// tsx itself before it loads the TypeScript module that does the work.
import { register } from 'tsx/esm/api';

register();
await import('./qr-render-worker.ts');
