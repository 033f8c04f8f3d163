// The APIs a token can be for, one row each: the scope asked of Entra, the files that keep the
// token in the work directory, and how a token for it is judged before it is saved or used. Mail
// needs `imap`; another API (Microsoft Graph for calendars and contacts) is another row here, and
// the grants, the store and the keeper serve it as they serve this one.
import {
  checkGraphToken,
  checkToken,
  type TokenExpectations,
  type TokenVerdict,
} from "./checks.js";
import type { StoredToken } from "./claims.js";
import { EXCHANGE_DEFAULT_SCOPE, GRAPH_DEFAULT_SCOPE, GRAPH_DELEGATED_SCOPE } from "./entra.js";

export interface Audience {
  /** `.default`: every permission the app was granted on that API (microsoft-365.md §3). */
  scope: string;
  /** What the grants that sign a person in ask for instead of `scope`, when it differs. */
  delegatedScope?: string;
  /** In the work directory: the token its consumer reads, what a person may see, the refresh token. */
  files: { token: string; meta: string; refresh: string };
  /** Whether the token can work for this API, judged from its claims. */
  check: (token: StoredToken, expect: TokenExpectations) => TokenVerdict;
  /** The API as the message of a refused token names it. */
  name: string;
}

export const AUDIENCES = {
  imap: {
    scope: EXCHANGE_DEFAULT_SCOPE,
    files: { token: "token", meta: "token.json", refresh: "token.refresh" },
    check: checkToken,
    name: "IMAP",
  },
  graph: {
    scope: GRAPH_DEFAULT_SCOPE,
    delegatedScope: GRAPH_DELEGATED_SCOPE,
    // The refresh token is IMAP's: Entra redeems one refresh token for either resource, so a
    // delegated admin signs in once for both (grants.ts redeems it one audience at a time).
    files: { token: "graph-token", meta: "graph-token.json", refresh: "token.refresh" },
    check: checkGraphToken,
    name: "Microsoft Graph",
  },
} as const satisfies Record<string, Audience>;

export type AudienceName = keyof typeof AUDIENCES;
