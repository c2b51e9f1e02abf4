import type { User } from '@tessera/contracts';
import type { HttpClient } from './http-client.ts';
import { userPath } from './path-segment.ts';

/**
 * The body of `PUT /v1/users/{user_id}`: members left out stay as they are, `null` clears one. The email
 * (or else the user id) labels the user's TOTP enrollments in authenticators.
 */
export interface UserProfileInput {
  email?: string | null;
  phone?: string | null;
  display_name?: string | null;
}

/** Users as the app knows them, keyed by the app's own user id (created on first use). */
export class Users {
  constructor(private readonly http: HttpClient) {}

  /** The user with their factors; `two_factor_enabled` says whether one is an active TOTP or push factor. */
  async retrieve(userId: string): Promise<User> {
    return this.http.request({ method: 'GET', path: userPath(userId) });
  }

  /** Creates the user, or updates the members given. */
  async upsert(userId: string, profile: UserProfileInput = {}): Promise<User> {
    return this.http.request({ method: 'PUT', path: userPath(userId), body: profile });
  }

  /** Deletes the user with their factors, recovery codes and challenges. */
  async delete(userId: string): Promise<void> {
    await this.http.request<undefined>({ method: 'DELETE', path: userPath(userId) });
  }
}
