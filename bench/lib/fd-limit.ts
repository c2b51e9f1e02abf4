// Open-file limits: a scenario with a thousand sockets per side needs more descriptors than some shells allow
// (ulimit -n is often 1024). The bench raises its own soft limit with prlimit(1) up to the hard limit; the server
// children it starts afterwards inherit it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface FileLimit {
  soft: number;
  hard: number;
}

/** RLIMIT_NOFILE of a process, from /proc/<pid>/limits ("unlimited" as Infinity). */
export function fileLimitOf(pid: number | 'self' = 'self'): FileLimit {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!match) throw new Error(`no "Max open files" in /proc/${pid}/limits`);
  const value = (raw: string | undefined) => (raw === 'unlimited' ? Infinity : Number(raw));
  return { soft: value(match[1]), hard: value(match[2]) };
}

/**
 * Makes sure this process may open `needed` descriptors: raises the soft limit (to the hard limit, at most) when it
 * is lower, with `prlimit --pid`; throws when even the hard limit is too low. Answers what it found and did.
 */
export function ensureFileLimit(needed: number): string {
  const before = fileLimitOf();
  if (before.soft >= needed) return `open-file limit ${before.soft} (hard ${before.hard}), ${needed} needed: enough`;
  if (before.hard < needed) {
    throw new Error(
      `this scenario needs about ${needed} open files, the hard limit (ulimit -Hn) is ${before.hard}: ` +
        `raise it (e.g. "ulimit -n ${needed}" as root, or LimitNOFILE) and run again`,
    );
  }
  const target = Number.isFinite(before.hard) ? Math.max(needed, Math.min(before.hard, needed * 4)) : needed * 4;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${Number.isFinite(before.hard) ? before.hard : 'unlimited'}`]);
  } catch (error) {
    throw new Error(
      `the open-file limit is ${before.soft} (hard ${before.hard}) and prlimit could not raise it to ${target} ` +
        `(${error instanceof Error ? error.message : String(error)}): run "ulimit -n ${needed}" before npm run bench`,
    );
  }
  const after = fileLimitOf();
  if (after.soft < needed) throw new Error(`prlimit left the open-file limit at ${after.soft}, ${needed} needed`);
  return `open-file limit raised from ${before.soft} to ${after.soft} (hard ${after.hard}) with prlimit; ${needed} needed`;
}
