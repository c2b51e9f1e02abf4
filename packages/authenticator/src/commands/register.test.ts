import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, runCli } from '../../test/run-cli.ts';

let temp: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  temp = await makeTempDir();
  expect((await runCli(['init'], { home: temp.dir })).status).toBe(0);
});
afterEach(() => temp.remove());

describe('register refuses a code it cannot use, saying why', () => {
  it.each([
    ['a URI of another scheme', 'http://x', /This is not a tessera:\/\/register URI/],
    ['a tessera URI of another kind', 'tessera://login?server=http%3A%2F%2Fx', /This is not a tessera:\/\/register URI/],
    ['a server that is not http(s)', 'tessera://register?server=ftp%3A%2F%2Fx&token=t', /its server, ftp:\/\/x, is not an http\(s\) URL/],
    ['a server with a query', 'tessera://register?server=http%3A%2F%2Flocalhost%3A9341%2Fv1%2Fapps%3F&token=t', /has a query or a fragment/],
    ['a server with a fragment', 'tessera://register?server=http%3A%2F%2Flocalhost%3A9341%2F%23top&token=t', /has a query or a fragment/],
  ])('%s', async (_what, uri, message) => {
    const result = await runCli(['register', uri, '--json'], { home: temp.dir, cwd: temp.dir });
    expect(result.status).toBe(1);
    const { error } = JSON.parse(result.stderr);
    expect(error).toEqual({ code: 'invalid_registration_uri', message: expect.stringMatching(message) });
  });
});
