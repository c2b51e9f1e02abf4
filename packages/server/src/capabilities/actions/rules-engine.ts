import type { ActionOutcome, ActionRulesInput, Condition, FactorType, ScalarValue } from '@tessera/contracts';
import { ipAllowlist } from '../apps/ip-allowlist.ts';

/** What Tessera knows about the user when an action is tracked: one read of their recent history. */
export interface UserHistory {
  factorTypes: ReadonlySet<FactorType>;
  /** Whether the context's device_id was seen before on an action that was allowed or passed. */
  knownDevice: boolean;
  /** Times (ms since the epoch) of the user's failed challenges, of fraud reports, of earlier tracks of this action. */
  failedChallengesAt: readonly number[];
  fraudReportsAt: readonly number[];
  actionsAt: readonly number[];
}

export interface Facts {
  context: Record<string, unknown>;
  history: UserHistory;
  nowMs: number;
}

export interface Decision {
  outcome: ActionOutcome;
  /** The rule that decided; null for the default outcome. */
  rule: string | null;
}

/**
 * How far back the signals of a rule set look, in seconds (0: not used), and the largest count they compare
 * with: the history read fetches no more than that.
 */
export interface HistoryNeeds {
  failedChallengesSeconds: number;
  failedChallengesCount: number;
  fraudReportsSeconds: number;
  actionsSeconds: number;
  actionsCount: number;
}

export interface CompiledRules {
  decide(facts: Facts): Decision;
  needs: HistoryNeeds;
}

type Test = (facts: Facts) => boolean;

/**
 * Compiles a checked rule set (rules-validation.ts) into closures, once per write: evaluating it is then
 * a walk over functions with no parsing, no allocation beyond the answer and no I/O.
 */
export function compileRules(input: ActionRulesInput): CompiledRules {
  const needs: HistoryNeeds = { failedChallengesSeconds: 0, failedChallengesCount: 0, fraudReportsSeconds: 0, actionsSeconds: 0, actionsCount: 0 };
  const rules = input.rules.map((rule) => ({ test: compile(rule.conditions, needs), decision: { outcome: rule.outcome, rule: rule.name } }));
  const fallback: Decision = { outcome: input.default_outcome, rule: null };
  return {
    needs,
    decide(facts) {
      for (const rule of rules) if (rule.test(facts)) return rule.decision;
      return fallback;
    },
  };
}

function compile(condition: Condition, needs: HistoryNeeds): Test {
  if ('all' in condition) {
    const tests = condition.all.map((child) => compile(child, needs));
    return (facts) => tests.every((test) => test(facts));
  }
  if ('any' in condition) {
    const tests = condition.any.map((child) => compile(child, needs));
    return (facts) => tests.some((test) => test(facts));
  }
  if ('signal' in condition) {
    switch (condition.signal) {
      case 'new_device':
        // Without a device_id the device cannot be known: it counts as new (an app that forgets to send the id is
        // challenged, not silently let through).
        return (facts) => typeof facts.context.device_id !== 'string' || !facts.history.knownDevice;
      case 'has_factor': {
        const type = condition.type;
        return (facts) => facts.history.factorTypes.has(type);
      }
      case 'failed_challenges': {
        const { within_seconds: seconds, gte } = condition;
        needs.failedChallengesSeconds = Math.max(needs.failedChallengesSeconds, seconds);
        needs.failedChallengesCount = Math.max(needs.failedChallengesCount, gte);
        return (facts) => countSince(facts.history.failedChallengesAt, facts.nowMs - seconds * 1000) >= gte;
      }
      case 'velocity': {
        const { within_seconds: seconds, gte } = condition;
        needs.actionsSeconds = Math.max(needs.actionsSeconds, seconds);
        needs.actionsCount = Math.max(needs.actionsCount, gte - 1);
        // This track counts as one of the N.
        return (facts) => countSince(facts.history.actionsAt, facts.nowMs - seconds * 1000) + 1 >= gte;
      }
      case 'fraud_reported': {
        const seconds = condition.within_seconds;
        needs.fraudReportsSeconds = Math.max(needs.fraudReportsSeconds, seconds);
        return (facts) => countSince(facts.history.fraudReportsAt, facts.nowMs - seconds * 1000) > 0;
      }
    }
  }
  const path = condition.field.split('.').slice(1);
  const read = (facts: Facts) => valueAt(facts.context, path);
  const expected = condition.value;
  switch (condition.op) {
    case 'eq':
      return (facts) => read(facts) === expected;
    case 'ne': {
      // Only a value of the same type can differ; a missing one never matches.
      return (facts) => {
        const actual = read(facts);
        return typeof actual === typeof expected && actual !== expected;
      };
    }
    case 'gt':
      return ordered(read, expected, (a, b) => a > b);
    case 'gte':
      return ordered(read, expected, (a, b) => a >= b);
    case 'lt':
      return ordered(read, expected, (a, b) => a < b);
    case 'lte':
      return ordered(read, expected, (a, b) => a <= b);
    case 'in': {
      const set = new Set<unknown>(expected as ScalarValue[]);
      return (facts) => set.has(read(facts));
    }
    case 'not_in': {
      // Only a value of a type the list holds can be missing from it (as for ne); a missing one never matches.
      const set = new Set<unknown>(expected as ScalarValue[]);
      const types = new Set((expected as ScalarValue[]).map((value) => typeof value));
      return (facts) => {
        const actual = read(facts);
        return types.has(typeof actual) && !set.has(actual);
      };
    }
    case 'contains':
      return (facts) => {
        const actual = read(facts);
        if (typeof actual === 'string') return typeof expected === 'string' && actual.includes(expected);
        return Array.isArray(actual) && actual.includes(expected);
      };
    case 'cidr': {
      const allows = ipAllowlist(typeof expected === 'string' ? [expected] : (expected as string[]));
      return (facts) => {
        const actual = read(facts);
        return typeof actual === 'string' && allows(actual);
      };
    }
  }
}

/** Compares numbers with numbers and strings with strings (ISO dates order as strings); other pairs never match. */
function ordered(read: (facts: Facts) => unknown, expected: ScalarValue | ScalarValue[], compare: (a: never, b: never) => boolean): Test {
  return (facts) => {
    const actual = read(facts);
    if (typeof actual !== typeof expected || (typeof actual !== 'number' && typeof actual !== 'string')) return false;
    return compare(actual as never, expected as never);
  };
}

function valueAt(context: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = context;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function countSince(times: readonly number[], sinceMs: number): number {
  let count = 0;
  for (const time of times) if (time > sinceMs) count++;
  return count;
}
