/** Wrong codes after which a challenge fails (the per-user lockout is in the users capability). */
export const maxAttemptsPerChallenge = 5;
export const defaultExpiresInSeconds = 300;
export const maxExpiresInSeconds = 3600;
/** Long-poll: the longest `?wait=` a read may hold. */
export const maxWaitSeconds = 60;
