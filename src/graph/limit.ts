// Outlook lets an app have at most 4 requests in flight per mailbox (microsoft-graph.md §5); a
// fifth answers 429 ApplicationThrottled. One limiter per mailbox for the whole process, so that a
// mailbox's calendar and contacts parts, and any command running them, share those 4.
import pLimit, { type LimitFunction } from "p-limit";

export const MAILBOX_CONCURRENCY = 4;

const limiters = new Map<string, LimitFunction>();

/** The limiter of this mailbox (addresses compared without case). */
export function mailboxLimit(address: string): LimitFunction {
  const key = address.toLowerCase();
  let limit = limiters.get(key);
  if (!limit) {
    limit = pLimit(MAILBOX_CONCURRENCY);
    limiters.set(key, limit);
  }
  return limit;
}
