// The stand-in's OAuth server and Microsoft Graph (scripts/standin/graph.ts) without Dovecot,
// seeded as the stand-in seeds them: for tests of the Graph source and of the stand-in itself.
import { startGraph, type GraphServer } from "../../scripts/standin/graph.js";
import {
  GRAPH_DENIED,
  GRAPH_NOT_ENABLED,
  GRAPH_THROTTLED,
  GRAPH_THROTTLED_TIMES,
  graphSeed,
  type GraphMailboxSeed,
} from "../../scripts/standin/graph-seed.js";
import {
  APP_CLIENT_ID,
  APP_CLIENT_SECRET,
  GRAPH_AUDIENCE,
  graphCaller,
  startOAuthServer,
  type OAuthServer,
} from "../../scripts/standin/oauth-server.js";
import type { StoredToken } from "../../src/token/index.js";

export interface GraphWorld {
  oauth: OAuthServer;
  graph: GraphServer;
  /** What the stand-in serves, by mailbox: a test may change it between runs. */
  seed: Record<string, GraphMailboxSeed>;
  /** An app-only token minted for Graph (or, with `audience`, for another API). */
  token(audience?: string): Promise<StoredToken>;
  stop(): Promise<void>;
}

export async function startGraphWorld(): Promise<GraphWorld> {
  const oauth = await startOAuthServer({ tenant: "contoso.test" });
  const seed = graphSeed();
  const graph = await startGraph({
    verify: graphCaller(oauth),
    seed,
    denied: [GRAPH_DENIED],
    notEnabled: [GRAPH_NOT_ENABLED],
    throttled: { [GRAPH_THROTTLED]: GRAPH_THROTTLED_TIMES },
  });
  return {
    oauth,
    graph,
    seed,
    token: async (audience = GRAPH_AUDIENCE) => {
      const now = new Date();
      return {
        accessToken: await oauth.mint({ appId: APP_CLIENT_ID }, 3600, audience),
        obtainedAt: now,
        expiresAt: new Date(now.getTime() + 3_600_000),
        claims: {},
      };
    },
    stop: async () => {
      await graph.stop();
      await oauth.stop();
    },
  };
}

/** The app-only grant and the world's OAuth server and Graph: the settings the CLI reads Graph with. */
export function graphEnv(world: GraphWorld): Record<string, string> {
  return {
    GRANT: "client-credentials",
    TENANT_ID: "contoso.test",
    APP_ID: APP_CLIENT_ID,
    APP_SECRET: APP_CLIENT_SECRET,
    AUTHORITY_URL: world.oauth.issuer,
    GRAPH_URL: world.graph.url,
  };
}
