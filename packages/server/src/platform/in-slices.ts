/**
 * Housekeeping in slices, so that no statement or transaction holds many rows at once: runs `work` (which handles
 * at most `slice` items and answers how many it handled) until a run handles fewer; answers the total.
 */
export async function inSlices(slice: number, work: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const handled = await work(slice);
    total += handled;
    if (handled < slice) return total;
  }
}
