import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance, FastifyReply } from 'fastify';

const entryPoint = fileURLToPath(new URL('../../../../sdk-browser/src/index.ts', import.meta.url));

type Format = 'iife' | 'esm';

/** Bundles the browser SDK from its sources, once per format, on first request: nothing generated is committed. */
function bundler(): (format: Format) => Promise<string> {
  const bundles = new Map<Format, Promise<string>>();
  return (format) => {
    let bundle = bundles.get(format);
    if (!bundle) {
      bundle = build({
        entryPoints: [entryPoint],
        bundle: true,
        format,
        globalName: format === 'iife' ? 'Tessera' : undefined,
        target: 'es2020',
        minify: true,
        write: false,
        legalComments: 'none',
      }).then((result) => result.outputFiles[0]?.text ?? '');
      // A failed build is tried again on the next request.
      bundle.catch(() => bundles.delete(format));
      bundles.set(format, bundle);
    }
    return bundle;
  };
}

/** `/sdk/tessera.js` (a script that sets the global `Tessera`) and `/sdk/tessera.mjs` (an ES module), loadable from any site. */
export function browserSdkRoutes(app: FastifyInstance): void {
  const bundleOf = bundler();
  const serve = (format: Format) => async (_request: unknown, reply: FastifyReply) => {
    const code = await bundleOf(format);
    return reply
      .type('text/javascript; charset=utf-8')
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('cache-control', 'public, max-age=300')
      .send(code);
  };
  const schema = { hide: true };
  app.get('/sdk/tessera.js', { schema }, serve('iife'));
  app.get('/sdk/tessera.mjs', { schema }, serve('esm'));
}
