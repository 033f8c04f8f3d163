// How one run ended: the classes every layer speaks of (imapsync's classifier and Microsoft
// Graph's decide them, the report keeps them), with the retry rule of each; remedies.ts says what
// each calls for.

/** How one imapsync run ended, as decided from its output lines and exit status. */
export const IMAPSYNC_CLASSES = [
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

/**
 * Only Microsoft Graph says these (a calendar or contacts part): `mailbox_not_enabled` is a user
 * without an Exchange Online mailbox (404 MailboxNotEnabledForRESTAPI).
 */
export const GRAPH_ONLY_CLASSES = ["mailbox_not_enabled"] as const;

/** Every class a run or a part can end with. */
export const RUN_CLASSES = [...IMAPSYNC_CLASSES, ...GRAPH_ONLY_CLASSES] as const;
export type RunClass = (typeof RUN_CLASSES)[number];

/** How a mailbox may run again after an attempt of a given class. */
export type RetryPolicy = "refresh_token" | "backoff" | "exponential" | "never";

/**
 * The retry rule of each class, read by the retry policy (retry-policy.ts). `other` is worth an
 * exponential rerun only when its text shows a lost connection (Classification.lostConnection);
 * the policy checks that flag.
 */
export const RETRY_POLICY: Readonly<Record<RunClass, RetryPolicy>> = {
  ok: "never",
  not_delegated: "never",
  token_expired: "refresh_token",
  auth_failed_source: "never",
  auth_failed_destination: "never",
  connect_failed_source: "exponential",
  connect_failed_destination: "exponential",
  tls_failed: "never",
  throttled: "backoff",
  quota_exceeded: "never",
  partial: "exponential",
  interrupted: "never",
  other: "exponential",
  // The user has no mailbox Graph can read (no licence, on-premises, deleted): a rerun changes nothing.
  mailbox_not_enabled: "never",
};

/** Office 365's published suggestion (≈ 300 s) when a throttled reply gave no figure. */
export const DEFAULT_BACKOFF_MS = 300_000;

/** How a throttling wait was chosen (retry-policy.ts), for the remedy that states it. */
export interface ThrottleWait {
  /** What Office 365 suggested (DEFAULT_BACKOFF_MS when it named no figure). */
  suggestedMs: number;
  doublings: number;
  /** --max-backoff cut the wait short. */
  capped: boolean;
  /** A sliced mailbox's wait grew from the one its last episode needed (RetryHistory.rememberedMs). */
  remembered?: boolean;
}
