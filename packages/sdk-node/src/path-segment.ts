/**
 * One path segment from an id the caller gives (a user id is the app's own string: it may hold `/`, `?`,
 * spaces or any letter). Every URL parser resolves a `.` or `..` segment, encoded or not, so such an id
 * cannot be sent in a path at all: it is refused here rather than sent to another route.
 */
export function pathSegment(name: string, value: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  if (value === '.' || value === '..') throw new TypeError(`${name} cannot be "." or "..": no URL path can hold it`);
  return encodeURIComponent(value);
}

export const appPath = (appId: string) => `/v1/apps/${encodeURIComponent(appId)}`;

export const userPath = (userId: string) => `/v1/users/${pathSegment('userId', userId)}`;
