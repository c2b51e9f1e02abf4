import { describe, expect, it } from 'vitest';
import { resolveStoreDirectory, storeFilePath } from './store-location.ts';

describe('resolveStoreDirectory', () => {
  it('uses TESSERA_AUTHENTICATOR_HOME first, made absolute', () => {
    expect(resolveStoreDirectory({ TESSERA_AUTHENTICATOR_HOME: '/srv/auth', XDG_CONFIG_HOME: '/x' }, '/home/a')).toBe('/srv/auth');
    expect(resolveStoreDirectory({ TESSERA_AUTHENTICATOR_HOME: 'rel' }, '/home/a')).toBe(`${process.cwd()}/rel`);
  });

  it('falls back to $XDG_CONFIG_HOME/tessera-authenticator', () => {
    expect(resolveStoreDirectory({ XDG_CONFIG_HOME: '/cfg' }, '/home/a')).toBe('/cfg/tessera-authenticator');
  });

  it('then to ~/.config/tessera-authenticator, also when XDG_CONFIG_HOME is empty or relative', () => {
    expect(resolveStoreDirectory({}, '/home/a')).toBe('/home/a/.config/tessera-authenticator');
    expect(resolveStoreDirectory({ XDG_CONFIG_HOME: '', TESSERA_AUTHENTICATOR_HOME: '' }, '/home/a')).toBe(
      '/home/a/.config/tessera-authenticator',
    );
    expect(resolveStoreDirectory({ XDG_CONFIG_HOME: 'cfg' }, '/home/a')).toBe('/home/a/.config/tessera-authenticator');
  });

  it('keeps the store in store.json', () => {
    expect(storeFilePath('/d')).toBe('/d/store.json');
  });
});
