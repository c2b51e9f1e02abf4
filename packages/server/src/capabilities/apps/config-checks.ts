import type { AppConfig } from '@tessera/contracts';
import { ApiError } from '../../platform/http/api-error.ts';
import { isIpOrCidr } from './ip-allowlist.ts';
import { logoProblem } from './logo.ts';

/** The checks a schema cannot express; throws a 400 naming the first field at fault. */
export function checkAppConfig(config: AppConfig): void {
  if (config.callback_url !== null && !isHttpUrl(config.callback_url)) {
    throw ApiError.invalid('callback_url', 'must be an http or https URL');
  }
  config.allowed_origins.forEach((origin, index) => {
    if (!isOrigin(origin)) {
      throw ApiError.invalid(
        `allowed_origins.${index}`,
        'must be a web origin such as https://app.example.com (scheme, host and port only)',
      );
    }
  });
  config.allowed_ips.forEach((entry, index) => {
    if (!isIpOrCidr(entry)) {
      throw ApiError.invalid(`allowed_ips.${index}`, 'must be an IP address or a CIDR range such as 10.0.0.0/8');
    }
  });
  if (config.branding.logo !== null) {
    const problem = logoProblem(config.branding.logo);
    if (problem) throw ApiError.invalid('branding.logo', problem);
  }
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
