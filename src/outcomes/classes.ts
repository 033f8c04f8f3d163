// How one imapsync run ended: the classes every layer speaks of (the classifier decides them, the
// retry policy and the remedies read them, the report keeps them).

/** How one imapsync run ended, as decided from its output lines and exit status. */
export const RUN_CLASSES = [
  "ok",
  "not_delegated",
  "token_expired",
  "auth_failed_source",
  "auth_failed_destination",
  "connect_failed_source",
  "connect_failed_destination",
  "tls_failed",
  "throttled",
  "quota_exceeded",
  "partial",
  "interrupted",
  "other",
] as const;
export type RunClass = (typeof RUN_CLASSES)[number];
