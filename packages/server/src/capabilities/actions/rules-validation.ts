import {
  actionOutcomes,
  conditionOps,
  factorTypes,
  signalNames,
  type ActionOutcome,
  type ActionRule,
  type ActionRulesInput,
  type Condition,
  type ConditionOp,
  type ScalarValue,
} from '@tessera/contracts';
import { ApiError } from '../../platform/http/api-error.ts';
import { isIpOrCidr } from '../apps/ip-allowlist.ts';

export const ruleLimits = {
  rules: 100,
  nodesPerRule: 100,
  depth: 8,
  listValues: 1000,
  stringLength: 256,
  maxWindowSeconds: 30 * 24 * 3600,
  maxCount: 100_000,
};

const fieldPattern = /^context(\.[A-Za-z0-9_-]{1,64}){1,4}$/;
const signalParams: Record<string, readonly string[]> = {
  new_device: [],
  failed_challenges: ['within_seconds', 'gte'],
  velocity: ['within_seconds', 'gte'],
  has_factor: ['type'],
  fraud_reported: ['within_seconds'],
};

/**
 * Checks a rule set as sent (the body's `rules` is taken as unknown JSON) and answers it typed, or
 * throws a 400 naming the first bad path, such as `rules[2].conditions.all[0].op`.
 */
export function checkRuleSet(defaultOutcome: ActionOutcome, rules: unknown[]): ActionRulesInput {
  if (rules.length > ruleLimits.rules) throw ApiError.invalid('rules', `may hold at most ${ruleLimits.rules} rules`);
  const names = new Set<string>();
  const checked = rules.map((rule, index) => {
    const path = `rules[${index}]`;
    const object = record(rule, path, ['name', 'conditions', 'outcome']);
    const name = object.name;
    if (typeof name !== 'string' || name.length < 1 || name.length > 100) fail(`${path}.name`, 'must be a string of 1 to 100 characters');
    if (names.has(name)) fail(`${path}.name`, `repeats the name of another rule ("${name}")`);
    names.add(name);
    if (!actionOutcomes.includes(object.outcome as ActionOutcome)) fail(`${path}.outcome`, `must be one of ${actionOutcomes.join(', ')}`);
    if (object.conditions === undefined) fail(`${path}.conditions`, 'is required');
    const counter = { nodes: 0 };
    const conditions = checkCondition(object.conditions, `${path}.conditions`, 1, counter);
    return { name, conditions, outcome: object.outcome as ActionOutcome } satisfies ActionRule;
  });
  return { default_outcome: defaultOutcome, rules: checked };
}

function checkCondition(node: unknown, path: string, depth: number, counter: { nodes: number }): Condition {
  if (++counter.nodes > ruleLimits.nodesPerRule) fail(path, `a rule may hold at most ${ruleLimits.nodesPerRule} conditions`);
  if (depth > ruleLimits.depth) fail(path, `is nested more than ${ruleLimits.depth} levels deep`);
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    fail(path, 'must be an object: {"all":[…]}, {"any":[…]}, a field condition or a signal');
  }
  const object = node as Record<string, unknown>;
  for (const group of ['all', 'any'] as const) {
    if (!Object.hasOwn(object, group)) continue;
    record(object, path, [group]);
    const children = object[group];
    if (!Array.isArray(children) || children.length === 0) fail(`${path}.${group}`, 'must be a non-empty array of conditions');
    const checked = children.map((child, index) => checkCondition(child, `${path}.${group}[${index}]`, depth + 1, counter));
    return group === 'all' ? { all: checked } : { any: checked };
  }
  if (Object.hasOwn(object, 'signal')) return checkSignal(object, path);
  if (Object.hasOwn(object, 'field')) return checkField(object, path);
  fail(path, 'must hold "all", "any", "field" or "signal"');
}

function checkSignal(object: Record<string, unknown>, path: string): Condition {
  const signal = object.signal;
  if (typeof signal !== 'string' || !signalNames.includes(signal as never)) {
    fail(`${path}.signal`, `must be one of ${signalNames.join(', ')}`);
  }
  const params = signalParams[signal] as readonly string[];
  record(object, path, ['signal', ...params]);
  for (const param of params) if (object[param] === undefined) fail(`${path}.${param}`, `is required for the ${signal} signal`);
  if (params.includes('within_seconds')) integer(object.within_seconds, `${path}.within_seconds`, 1, ruleLimits.maxWindowSeconds);
  if (params.includes('gte')) integer(object.gte, `${path}.gte`, 1, ruleLimits.maxCount);
  if (params.includes('type') && !factorTypes.includes(object.type as never)) fail(`${path}.type`, `must be one of ${factorTypes.join(', ')}`);
  return object as unknown as Condition;
}

function checkField(object: Record<string, unknown>, path: string): Condition {
  record(object, path, ['field', 'op', 'value']);
  const field = object.field;
  if (typeof field !== 'string' || !fieldPattern.test(field)) {
    fail(`${path}.field`, 'must be a path into the context such as context.amount (letters, digits, _ and -, at most 4 levels)');
  }
  const op = object.op as ConditionOp;
  if (!conditionOps.includes(op)) fail(`${path}.op`, `must be one of ${conditionOps.join(', ')}`);
  const value = object.value;
  const at = `${path}.value`;
  if (value === undefined) fail(at, 'is required');
  switch (op) {
    case 'eq':
    case 'ne':
    case 'contains':
      scalar(value, at);
      break;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      if (typeof value !== 'number' && typeof value !== 'string') fail(at, `must be a number (or a string) for ${op}`);
      scalar(value, at);
      break;
    case 'in':
    case 'not_in':
      list(value, at).forEach((item, index) => scalar(item, `${at}[${index}]`));
      break;
    case 'cidr':
      (typeof value === 'string' ? [value] : list(value, at)).forEach((item, index) => {
        const itemPath = typeof value === 'string' ? at : `${at}[${index}]`;
        if (typeof item !== 'string' || !isIpOrCidr(item)) fail(itemPath, 'must be an IP address or a CIDR range such as 10.0.0.0/8');
      });
      break;
  }
  return { field, op, value: value as ScalarValue | ScalarValue[] };
}

function record(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'must be an object');
  for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(`${path}.${key}`, 'is not a known field');
  return value as Record<string, unknown>;
}

function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > ruleLimits.listValues) {
    fail(path, `must be an array of 1 to ${ruleLimits.listValues} values`);
  }
  return value;
}

function scalar(value: unknown, path: string): void {
  if (typeof value === 'string' && value.length <= ruleLimits.stringLength) return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  if (typeof value === 'boolean') return;
  fail(path, `must be a string (at most ${ruleLimits.stringLength} characters), a number or a boolean`);
}

function integer(value: unknown, path: string, min: number, max: number): void {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) fail(path, `must be an integer from ${min} to ${max}`);
}

function fail(field: string, reason: string): never {
  throw ApiError.invalid(field, reason);
}
