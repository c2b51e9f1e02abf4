import { errorCatalog, type ErrorCode, type ValidationErrorDetails } from '@tessera/contracts';

/** An error the client caused or must know about; the error handler renders it as the documented body. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: { details?: unknown; headers?: Record<string, string> } = {}) {
    super(message ?? errorCatalog[code].message);
    this.code = code;
    this.status = errorCatalog[code].status;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  /** A 400 naming the field (a dotted path such as `branding.logo`). */
  static invalid(field: string, reason: string): ApiError {
    const details: ValidationErrorDetails = { field, reason };
    return new ApiError('validation_failed', `${field}: ${reason}`, { details });
  }

  static notFound(what: string): ApiError {
    return new ApiError('not_found', `${what} not found.`);
  }
}
