import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { patternReason } from './schema-kit.ts';

// ajv-formats is CommonJS: its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(options: { coerceTypes: boolean }): Ajv {
  // Bodies are taken as sent: no type coercion and no silent removal of unknown fields, which are refused.
  // Query strings and path parameters arrive as strings, so those are coerced.
  const ajv = new Ajv({
    coerceTypes: options.coerceTypes,
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = makeAjv({ coerceTypes: false });
const textAjv = makeAjv({ coerceTypes: true });

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema);

/** Compiles a schema for a check the route makes itself (a patched document, say). */
export function compileBodySchema<T>(schema: object): ValidateFunction<T> {
  return bodyAjv.compile<T>(schema);
}

/** The field an ajv error is about, as a dotted path (`branding.logo`), and why. */
export function describeAjvError(error: ErrorObject): { field: string; reason: string } {
  const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    segments.push(String(params.missingProperty));
    return { field: segments.join('.'), reason: 'is required' };
  }
  if (error.keyword === 'additionalProperties') {
    segments.push(String(params.additionalProperty));
    return { field: segments.join('.'), reason: 'is not a known field' };
  }
  const reason = (error.keyword === 'pattern' && patternReason(String(params.pattern))) || error.message || 'is not valid';
  // A key refused by propertyNames: ajv reports it on the object, naming the key apart.
  const key = (error as ErrorObject & { propertyName?: string }).propertyName;
  if (key !== undefined) return { field: segments.join('.') || '(body)', reason: `has a key that ${reason.replace(/^must NOT/, 'must not')}` };
  return { field: segments.join('.') || '(body)', reason };
}
