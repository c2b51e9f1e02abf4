import type { AppConfig, JsonPatchOperation } from '@tessera/contracts';
import fastJsonPatch from 'fast-json-patch';
import { ApiError } from '../../platform/http/api-error.ts';
import { compileBodySchema, describeAjvError } from '../../platform/http/validation.ts';
import { appConfigSchema } from './schemas.ts';

const { applyPatch, JsonPatchError } = fastJsonPatch;
const validConfig = compileBodySchema<AppConfig>(appConfigSchema);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7396 §2: members set to null are removed; objects merge recursively; anything else replaces. */
function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const result: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** A removed optional member means "unset": null for texts, empty for lists. */
function normalize(document: unknown): unknown {
  if (!isObject(document)) return document;
  const branding = document.branding === undefined ? {} : document.branding;
  return {
    ...document,
    issuer_name: document.issuer_name ?? null,
    callback_url: document.callback_url ?? null,
    challenge_default_message: document.challenge_default_message ?? null,
    branding: isObject(branding)
      ? { ...branding, display_name: branding.display_name ?? null, logo: branding.logo ?? null }
      : branding,
    profile_scopes: document.profile_scopes ?? [],
    allowed_origins: document.allowed_origins ?? [],
    allowed_ips: document.allowed_ips ?? [],
  };
}

function validated(document: unknown): AppConfig {
  const config = normalize(document);
  if (!validConfig(config)) {
    const { field, reason } = describeAjvError(validConfig.errors![0]!);
    throw ApiError.invalid(field, reason);
  }
  return config;
}

export function applyMergePatchToConfig(current: AppConfig, patch: Record<string, unknown>): AppConfig {
  return validated(mergePatch(current as unknown as Json, patch as Json));
}

export function applyJsonPatchToConfig(current: AppConfig, operations: JsonPatchOperation[]): AppConfig {
  const document = structuredClone(current);
  try {
    // validateOperation: each operation is checked against the document before it is applied.
    return validated(applyPatch(document, operations as fastJsonPatch.Operation[], true, true).newDocument);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (!(error instanceof JsonPatchError)) {
      // fast-json-patch refuses __proto__ and constructor paths with a plain error.
      throw new ApiError('invalid_patch', `The patch cannot be applied: ${(error as Error).message}`);
    }
    const details = { index: error.index ?? null, operation: error.operation ?? null, reason: error.name };
    if (error.name === 'TEST_OPERATION_FAILED') {
      throw new ApiError('patch_test_failed', `A "test" operation failed at operation ${error.index}.`, { details });
    }
    const where = error.index === undefined ? '' : ` (operation ${error.index})`;
    throw new ApiError('invalid_patch', `${error.message.split('\n')[0]}${where}`, { details });
  }
}
