/** Fields an app may ask an authenticator to share at QR login. */
export const profileScopes = ['first_name', 'last_name', 'email', 'identity_id', 'picture'] as const;
export type ProfileScope = (typeof profileScopes)[number];

export interface AppBranding {
  display_name: string | null;
  /** A `data:image/png;base64,…` URL, at most 180×100 pixels. */
  logo: string | null;
}

/** The configuration an operator (or a patch) sets on an app. */
export interface AppConfig {
  name: string;
  active: boolean;
  issuer_name: string | null;
  callback_url: string | null;
  challenge_default_message: string | null;
  branding: AppBranding;
  profile_scopes: ProfileScope[];
  allowed_origins: string[];
  allowed_ips: string[];
}

/** An app as the API returns it: never with its secrets. */
export interface App extends AppConfig {
  app_id: string;
  created_at: string;
  updated_at: string;
}

/** The answer to `POST /v1/apps`: the only time the secrets are shown. */
export interface CreatedApp extends App {
  app_secret: string;
  webhook_secret: string;
}

export interface RotatedSecret {
  app_secret: string;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

/** One operation of an RFC 6902 JSON Patch. */
export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };
