import { randomFillSync } from 'node:crypto';

// Random bytes are drawn 4 KiB at a time, as crypto.randomUUID does: one call into OpenSSL for many small draws
// (ids, QR nonces: hundreds a second), each byte handed out once.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** Copies `length` (at most 4096) fresh random bytes into `target` at `offset`. */
export function fillRandom(target: Buffer, offset: number, length: number): void {
  if (poolOffset + length > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(target, offset, poolOffset, poolOffset + length);
  poolOffset += length;
}

/** `length` fresh random bytes, from the pool. */
export function pooledRandomBytes(length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  fillRandom(bytes, 0, length);
  return bytes;
}
