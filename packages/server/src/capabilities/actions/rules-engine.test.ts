import type { ActionRule, Condition } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../platform/http/api-error.ts';
import { compileRules, type Facts, type UserHistory } from './rules-engine.ts';
import { checkRuleSet } from './rules-validation.ts';

const now = Date.parse('2026-01-01T12:00:00Z');
const secondsAgo = (seconds: number) => now - seconds * 1000;

function facts(context: Record<string, unknown>, history: Partial<UserHistory> = {}): Facts {
  return {
    context,
    nowMs: now,
    history: { factorTypes: new Set(), knownDevice: false, failedChallengesAt: [], fraudReportsAt: [], actionsAt: [], ...history },
  };
}

/** Whether `condition` holds: checked as the API checks it, then compiled. */
function holds(condition: Condition, input: Facts): boolean {
  const rules = checkRuleSet('ALLOW', [{ name: 'r', conditions: condition, outcome: 'BLOCK' }]);
  return compileRules(rules).decide(input).outcome === 'BLOCK';
}

const field = (path: string, op: string, value: unknown) => ({ field: path, op, value }) as Condition;

// [what, condition, facts, expected]
const table: Array<[string, Condition, Facts, boolean]> = [
  ['eq number', field('context.amount', 'eq', 5), facts({ amount: 5 }), true],
  ['eq string', field('context.country', 'eq', 'FR'), facts({ country: 'FR' }), true],
  ['eq boolean', field('context.vip', 'eq', true), facts({ vip: true }), true],
  ['eq: another type never matches', field('context.amount', 'eq', 5), facts({ amount: '5' }), false],
  ['ne', field('context.country', 'ne', 'FR'), facts({ country: 'DE' }), true],
  ['ne: equal', field('context.country', 'ne', 'FR'), facts({ country: 'FR' }), false],
  ['ne: missing field never matches', field('context.country', 'ne', 'FR'), facts({}), false],
  ['ne: another type never matches', field('context.amount', 'ne', 5), facts({ amount: '6' }), false],
  ['gt', field('context.amount', 'gt', 10000), facts({ amount: 10001 }), true],
  ['gt: equal', field('context.amount', 'gt', 10000), facts({ amount: 10000 }), false],
  ['gt: string against number', field('context.amount', 'gt', 10000), facts({ amount: '20000' }), false],
  ['gt: strings order as strings (ISO dates)', field('context.since', 'gt', '2025-06-01'), facts({ since: '2025-07-01' }), true],
  ['gte: equal', field('context.amount', 'gte', 10000), facts({ amount: 10000 }), true],
  ['lt', field('context.amount', 'lt', 0), facts({ amount: -1 }), true],
  ['lt: missing field', field('context.amount', 'lt', 0), facts({}), false],
  ['lte: equal', field('context.amount', 'lte', 3), facts({ amount: 3 }), true],
  ['lte: bigger', field('context.amount', 'lte', 3), facts({ amount: 3.5 }), false],
  ['in', field('context.country', 'in', ['KP', 'IR']), facts({ country: 'IR' }), true],
  ['in: absent', field('context.country', 'in', ['KP', 'IR']), facts({ country: 'FR' }), false],
  ['in: strict types', field('context.tier', 'in', [1, 2]), facts({ tier: '1' }), false],
  ['not_in', field('context.country', 'not_in', ['FR', 'DE']), facts({ country: 'IR' }), true],
  ['not_in: listed', field('context.country', 'not_in', ['FR', 'DE']), facts({ country: 'FR' }), false],
  ['not_in: missing field never matches', field('context.country', 'not_in', ['FR']), facts({}), false],
  ['not_in: an object is no value', field('context.country', 'not_in', ['FR']), facts({ country: { code: 'IR' } }), false],
  ['not_in: a value of another type never matches', field('context.country', 'not_in', ['US', 'CA']), facts({ country: 5 }), false],
  ['not_in: a number missing from a list of numbers', field('context.tier', 'not_in', [1, 2]), facts({ tier: 3 }), true],
  ['contains: substring', field('context.user_agent', 'contains', 'Headless'), facts({ user_agent: 'HeadlessChrome/120' }), true],
  ['contains: not in string', field('context.user_agent', 'contains', 'curl'), facts({ user_agent: 'Firefox' }), false],
  ['contains: array member', field('context.tags', 'contains', 'risky'), facts({ tags: ['new', 'risky'] }), true],
  ['contains: number is not a string', field('context.user_agent', 'contains', 1), facts({ user_agent: 'a1' }), false],
  ['cidr IPv4', field('context.ip', 'cidr', '10.0.0.0/8'), facts({ ip: '10.1.2.3' }), true],
  ['cidr IPv4 outside', field('context.ip', 'cidr', '10.0.0.0/8'), facts({ ip: '11.1.2.3' }), false],
  ['cidr IPv4-mapped IPv6 address', field('context.ip', 'cidr', '10.0.0.0/8'), facts({ ip: '::ffff:10.9.9.9' }), true],
  ['cidr IPv6', field('context.ip', 'cidr', ['2001:db8::/32']), facts({ ip: '2001:db8:1::5' }), true],
  ['cidr IPv6 outside', field('context.ip', 'cidr', ['2001:db8::/32']), facts({ ip: '2001:db9::5' }), false],
  ['cidr list with a single address', field('context.ip', 'cidr', ['192.0.2.7', '198.51.100.0/24']), facts({ ip: '192.0.2.7' }), true],
  ['cidr: not an address', field('context.ip', 'cidr', '10.0.0.0/8'), facts({ ip: 'ten' }), false],
  ['cidr: missing', field('context.ip', 'cidr', '10.0.0.0/8'), facts({}), false],
  ['nested field', field('context.card.country', 'eq', 'US'), facts({ card: { country: 'US' } }), true],
  ['nested field through a non-object', field('context.card.country', 'eq', 'US'), facts({ card: 'US' }), false],
  ['no inherited properties', field('context.toString', 'eq', 'x'), facts({}), false],
  ['new_device: unseen', { signal: 'new_device' }, facts({ device_id: 'd1' }, { knownDevice: false }), true],
  ['new_device: seen', { signal: 'new_device' }, facts({ device_id: 'd1' }, { knownDevice: true }), false],
  ['new_device: no device_id counts as new (fails closed)', { signal: 'new_device' }, facts({}), true],
  ['new_device: a device_id that is no string counts as new', { signal: 'new_device' }, facts({ device_id: 42 }, { knownDevice: true }), true],
  ['has_factor', { signal: 'has_factor', type: 'totp' }, facts({}, { factorTypes: new Set(['totp']) }), true],
  ['has_factor: another type', { signal: 'has_factor', type: 'push' }, facts({}, { factorTypes: new Set(['totp']) }), false],
  ['failed_challenges at the count', { signal: 'failed_challenges', within_seconds: 3600, gte: 3 }, facts({}, { failedChallengesAt: [secondsAgo(10), secondsAgo(20), secondsAgo(3000)] }), true],
  ['failed_challenges: one outside the window', { signal: 'failed_challenges', within_seconds: 3600, gte: 3 }, facts({}, { failedChallengesAt: [secondsAgo(10), secondsAgo(20), secondsAgo(4000)] }), false],
  ['velocity counts this track', { signal: 'velocity', within_seconds: 600, gte: 3 }, facts({}, { actionsAt: [secondsAgo(1), secondsAgo(500)] }), true],
  ['velocity: too few in the window', { signal: 'velocity', within_seconds: 600, gte: 3 }, facts({}, { actionsAt: [secondsAgo(1), secondsAgo(700)] }), false],
  ['velocity gte 1: always', { signal: 'velocity', within_seconds: 60, gte: 1 }, facts({}), true],
  ['fraud_reported', { signal: 'fraud_reported', within_seconds: 86400 }, facts({}, { fraudReportsAt: [secondsAgo(3600)] }), true],
  ['fraud_reported: too long ago', { signal: 'fraud_reported', within_seconds: 86400 }, facts({}, { fraudReportsAt: [secondsAgo(90000)] }), false],
  ['all: every one', { all: [field('context.a', 'eq', 1), field('context.b', 'eq', 2)] }, facts({ a: 1, b: 2 }), true],
  ['all: one fails', { all: [field('context.a', 'eq', 1), field('context.b', 'eq', 2)] }, facts({ a: 1, b: 3 }), false],
  ['any: one holds', { any: [field('context.a', 'eq', 1), field('context.b', 'eq', 2)] }, facts({ a: 0, b: 2 }), true],
  ['any: none', { any: [field('context.a', 'eq', 1), field('context.b', 'eq', 2)] }, facts({}), false],
  [
    'nested all/any',
    { all: [field('context.amount', 'gt', 100), { any: [{ signal: 'new_device' }, field('context.country', 'in', ['KP'])] }] },
    facts({ amount: 101, country: 'KP', device_id: 'd' }, { knownDevice: true }),
    true,
  ],
];

describe('rules engine', () => {
  it.each(table)('%s', (_what, condition, input, expected) => {
    expect(holds(condition, input)).toBe(expected);
  });

  it('tries rules in order: the first that holds decides; none: the default', () => {
    const rules: ActionRule[] = [
      { name: 'block-kp', conditions: field('context.country', 'eq', 'KP'), outcome: 'BLOCK' },
      { name: 'big', conditions: field('context.amount', 'gt', 100), outcome: 'CHALLENGE_REQUIRED' },
      { name: 'huge', conditions: field('context.amount', 'gt', 1000), outcome: 'REVIEW' },
    ];
    const compiled = compileRules(checkRuleSet('ALLOW', rules));
    expect(compiled.decide(facts({ country: 'KP', amount: 5000 }))).toEqual({ outcome: 'BLOCK', rule: 'block-kp' });
    expect(compiled.decide(facts({ amount: 5000 }))).toEqual({ outcome: 'CHALLENGE_REQUIRED', rule: 'big' });
    expect(compiled.decide(facts({ amount: 1 }))).toEqual({ outcome: 'ALLOW', rule: null });
  });

  it('asks the history read for no more than the rules look at', () => {
    const compiled = compileRules(
      checkRuleSet('ALLOW', [
        { name: 'a', conditions: { signal: 'velocity', within_seconds: 600, gte: 5 }, outcome: 'BLOCK' },
        { name: 'b', conditions: { any: [{ signal: 'failed_challenges', within_seconds: 60, gte: 2 }, { signal: 'velocity', within_seconds: 60, gte: 9 }] }, outcome: 'BLOCK' },
      ]),
    );
    expect(compiled.needs).toEqual({ failedChallengesSeconds: 60, failedChallengesCount: 2, fraudReportsSeconds: 0, actionsSeconds: 600, actionsCount: 8 });
  });

  it('evaluates 20 rules in microseconds', () => {
    const rules: ActionRule[] = Array.from({ length: 20 }, (_, i) => ({
      name: `rule-${i}`,
      conditions: {
        all: [
          field('context.amount', 'gt', 100_000 + i),
          { any: [field('context.country', 'in', ['KP', 'IR', `X${i}`]), field('context.ip', 'cidr', ['10.0.0.0/8', '2001:db8::/32'])] },
          { signal: 'velocity', within_seconds: 600, gte: 50 },
        ],
      },
      outcome: 'CHALLENGE_REQUIRED',
    }));
    const compiled = compileRules(checkRuleSet('ALLOW', rules));
    const input = facts({ amount: 500, country: 'FR', ip: '192.0.2.1' }, { actionsAt: [secondsAgo(5)] });
    const runs = 100_000;
    for (let i = 0; i < 10_000; i++) compiled.decide(input);
    const started = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) compiled.decide(input);
    const microsPerEval = Number(process.hrtime.bigint() - started) / 1000 / runs;
    console.log(`rules engine: ${microsPerEval.toFixed(2)} µs per evaluation of 20 rules`);
    expect(microsPerEval).toBeLessThan(50);
  });
});

describe('rule set validation', () => {
  const bad: Array<[string, unknown[], string]> = [
    ['unknown op', [{ name: 'a', outcome: 'BLOCK', conditions: { all: [{ field: 'context.x', op: 'gtx', value: 1 }] } }], 'rules[0].conditions.all[0].op'],
    ['outcome', [{ name: 'a', outcome: 'DENY', conditions: { signal: 'new_device' } }], 'rules[0].outcome'],
    ['field outside the context', [{ name: 'a', outcome: 'BLOCK', conditions: { field: 'user.email', op: 'eq', value: 'x' } }], 'rules[0].conditions.field'],
    ['gt needs a number or string', [{ name: 'a', outcome: 'BLOCK', conditions: { field: 'context.x', op: 'gt', value: [1] } }], 'rules[0].conditions.value'],
    ['in needs a list', [{ name: 'a', outcome: 'BLOCK', conditions: { field: 'context.x', op: 'in', value: 'FR' } }], 'rules[0].conditions.value'],
    ['empty list', [{ name: 'a', outcome: 'BLOCK', conditions: { field: 'context.x', op: 'in', value: [] } }], 'rules[0].conditions.value'],
    ['bad CIDR in a list', [{ name: 'a', outcome: 'BLOCK', conditions: { field: 'context.ip', op: 'cidr', value: ['10.0.0.0/8', '10.0.0.0/33'] } }], 'rules[0].conditions.value[1]'],
    ['empty all', [{ name: 'a', outcome: 'BLOCK', conditions: { all: [] } }], 'rules[0].conditions.all'],
    ['unknown signal', [{ name: 'a', outcome: 'BLOCK', conditions: { signal: 'tor' } }], 'rules[0].conditions.signal'],
    ['signal without its window', [{ name: 'a', outcome: 'BLOCK', conditions: { signal: 'velocity', gte: 3 } }], 'rules[0].conditions.within_seconds'],
    ['signal count not an integer', [{ name: 'a', outcome: 'BLOCK', conditions: { signal: 'failed_challenges', within_seconds: 60, gte: 1.5 } }], 'rules[0].conditions.gte'],
    ['has_factor type', [{ name: 'a', outcome: 'BLOCK', conditions: { signal: 'has_factor', type: 'sms' } }], 'rules[0].conditions.type'],
    ['extra member', [{ name: 'a', outcome: 'BLOCK', conditions: { signal: 'new_device', x: 1 } }], 'rules[0].conditions.x'],
    ['all and any together', [{ name: 'a', outcome: 'BLOCK', conditions: { all: [{ signal: 'new_device' }], any: [] } }], 'rules[0].conditions.any'],
    ['repeated name', [{ name: 'a', outcome: 'BLOCK', conditions: { signal: 'new_device' } }, { name: 'a', outcome: 'ALLOW', conditions: { signal: 'new_device' } }], 'rules[1].name'],
    ['rule not an object', [{ name: 'a', outcome: 'BLOCK', conditions: { signal: 'new_device' } }, 'x'], 'rules[1]'],
    ['missing conditions', [{ name: 'a', outcome: 'BLOCK' }], 'rules[0].conditions'],
    ['too deep', [{ name: 'a', outcome: 'BLOCK', conditions: nest(9) }], 'rules[0].conditions' + '.all[0]'.repeat(8)],
  ];

  it.each(bad)('refuses %s, naming the path', (_what, rules, path) => {
    let error: unknown;
    try {
      checkRuleSet('ALLOW', rules);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).details).toMatchObject({ field: path });
  });
});

function nest(levels: number): Condition {
  return levels === 1 ? { signal: 'new_device' } : { all: [nest(levels - 1)] };
}
