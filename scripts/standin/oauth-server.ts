// A local stand-in for Microsoft Entra ID (test-environment.md §4), on 127.0.0.1.
//
// API
//   startOAuthServer({ port?, tenant?, tokenTtlSec?, clients?, accounts?, defaultAccount?,
//                      approveDeviceCodes? }) → Promise<OAuthServer>
//     issuer            http://127.0.0.1:<port>/<tenant>/v2.0 (OIDC discovery below it: AUTHORITY_URL)
//     tokenEndpoint, deviceEndpoint, authorizeEndpoint, introspectionUrl, jwksUrl
//     setTokenTtl(sec)  lifetime of the tokens issued from now on (every grant; per-client ttl wins)
//     setGraphRoles(r)  the application permissions of Graph tokens issued from now on (an app
//                       whose admin consent lacks some; default GRAPH_ROLES)
//     mint({ upn } | { appId }, ttlSec?) an access token without a grant (tests)
//     verify(token)     its claims when valid (signature, audience, expiry), else undefined
//     stop()
//   signInHeadless(url)  follows redirects and submits forms like a browser that signs in at once:
//                        implicit (form_post to the callback), authorization code, device code.
//
// Grants: authorization code + PKCE, refresh (rotated), device code and client credentials come
// from oidc-provider; the implicit grant (`response_type=token`, which oidc-provider refuses) is an
// Entra-shaped handler of our own. Sign-in never asks anything: the account is `login_hint`, or
// `defaultAccount` (device code has no hint). Access tokens are JWTs shaped like Exchange Online's:
// aud https://outlook.office365.com, `upn` + `scp` IMAP.AccessAsUser.All (delegated) or
// `roles` IMAP.AccessAsApp (app). `POST /introspect` is the RFC 7662 endpoint Dovecot's oauth2
// passdb calls (§2.2); app tokens are introspected with the client id as `upn`, the name under
// which delegations list them.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./ports.js";
import { pathToFileURL } from "node:url";
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from "jose";
import Provider, {
  type ClientMetadata,
  type Configuration,
  type KoaContextWithOIDC,
} from "oidc-provider";

export const AUDIENCE = "https://outlook.office365.com";
export const DELEGATED_SCOPE = "IMAP.AccessAsUser.All";
export const APP_ROLE = "IMAP.AccessAsApp";
/** What a client asks for, Entra style; the short forms are accepted too. */
const RESOURCE_SCOPES = [`${AUDIENCE}/.default`, `${AUDIENCE}/${DELEGATED_SCOPE}`, DELEGATED_SCOPE];
/** Microsoft Graph, a second resource: its tokens are refused by IMAP and the other way round. */
export const GRAPH_AUDIENCE = "https://graph.microsoft.com";
export const GRAPH_DELEGATED = [
  "Calendars.Read.Shared",
  "Contacts.Read.Shared",
  "MailboxSettings.Read",
];
export const GRAPH_ROLES = ["Calendars.Read", "Contacts.Read", "MailboxSettings.Read"];
const GRAPH_SCOPES = [
  `${GRAPH_AUDIENCE}/.default`,
  ...GRAPH_DELEGATED.map((p) => `${GRAPH_AUDIENCE}/${p}`),
];
/**
 * The resource a request is for, from its scopes as Entra reads them (no `resource` parameter):
 * the first resource scope named decides, so that a sign-in widened to both resources (below)
 * still gives the token it asked for first.
 */
const resourceOf = (scope: unknown) =>
  String(scope ?? "")
    .split(" ")
    .map((s) =>
      GRAPH_SCOPES.includes(s)
        ? GRAPH_AUDIENCE
        : RESOURCE_SCOPES.includes(s)
          ? AUDIENCE
          : undefined,
    )
    .find((r) => r !== undefined) ?? AUDIENCE;

export type Grant =
  "authorization_code" | "refresh_token" | "device_code" | "client_credentials" | "implicit";

export interface ClientSpec {
  clientId: string;
  /** Confidential client when set; public (PKCE) otherwise. */
  secret?: string;
  grants: Grant[];
  /** Loopback URIs match on any port (RFC 8252 §7.3). */
  redirectUris?: string[];
  /** Overrides the server-wide lifetime for this client's tokens. */
  tokenTtlSec?: number;
}

export const PUBLIC_CLIENT_ID = "m365-imapsync";
export const APP_CLIENT_ID = "migration-app";
export const APP_CLIENT_SECRET = "migration-app-secret";

export const DEFAULT_CLIENTS: ClientSpec[] = [
  {
    clientId: PUBLIC_CLIENT_ID,
    grants: ["authorization_code", "refresh_token", "device_code", "implicit"],
    redirectUris: ["http://localhost:9876/callback", "http://127.0.0.1:9876/callback"],
  },
  { clientId: APP_CLIENT_ID, secret: APP_CLIENT_SECRET, grants: ["client_credentials"] },
  {
    clientId: "migration-app-5s",
    secret: "migration-app-5s-secret",
    grants: ["client_credentials"],
    tokenTtlSec: 5,
  },
  {
    // An app registration without "Access tokens (used for implicit flows)": AADSTS700054.
    clientId: "no-implicit-app",
    grants: ["authorization_code"],
    redirectUris: ["http://localhost:9876/callback"],
  },
];

export const DEFAULT_ACCOUNTS = [
  "admin@contoso.test",
  "alice@contoso.test",
  "bob@contoso.test",
  "carol@contoso.test",
  "big@contoso.test",
];

export interface OAuthServerOptions {
  /** 0 (default): any free port. */
  port?: number;
  tenant?: string;
  tokenTtlSec?: number;
  clients?: ClientSpec[];
  accounts?: string[];
  /** Who signs in when the request names nobody (device code). Default: the first account. */
  defaultAccount?: string;
  /**
   * Sign `defaultAccount` in for every device code as soon as it is issued, as if someone had
   * entered it at once: a device-code sign-in then needs nobody (the Docker demo).
   */
  approveDeviceCodes?: boolean;
}

/** Claims of a valid access token (the ones the stand-in relies on). */
export interface TokenClaims {
  aud: string;
  exp: number;
  iat: number;
  tid: string;
  appid: string;
  upn?: string;
  scp?: string;
  roles?: string[];
}

export interface OAuthServer {
  issuer: string;
  port: number;
  tenant: string;
  authorizeEndpoint: string;
  tokenEndpoint: string;
  deviceEndpoint: string;
  introspectionUrl: string;
  jwksUrl: string;
  setTokenTtl(sec: number): void;
  setGraphRoles(roles: readonly string[]): void;
  /** `audience` GRAPH_AUDIENCE: a Microsoft Graph token (default: Exchange Online's). */
  mint(
    who: { upn: string } | { appId: string },
    ttlSec?: number,
    audience?: string,
  ): Promise<string>;
  verify(token: string, audience?: string): Promise<TokenClaims | undefined>;
  stop(): Promise<void>;
}

/**
 * What the Graph stand-in asks of a bearer token: who it speaks for and its permissions (an app's
 * roles, or a delegated token's scopes), when it is a valid Graph token of this server.
 */
export function graphCaller(
  oauth: OAuthServer,
): (token: string) => Promise<{ who: string; permissions: string[] } | undefined> {
  return async (token) => {
    const claims = await oauth.verify(token, GRAPH_AUDIENCE);
    return (
      claims && {
        who: claims.upn ?? claims.appid,
        permissions: claims.roles ?? claims.scp?.split(" ") ?? [],
      }
    );
  };
}

const OIDC_GRANT: Record<Grant, string | undefined> = {
  authorization_code: "authorization_code",
  refresh_token: "refresh_token",
  device_code: "urn:ietf:params:oauth:grant-type:device_code",
  client_credentials: "client_credentials",
  implicit: undefined, // ours, not oidc-provider's
};

function clientMetadata(c: ClientSpec): ClientMetadata {
  const grantTypes = c.grants.flatMap((g) => OIDC_GRANT[g] ?? []);
  const usesRedirect = c.grants.includes("authorization_code");
  return {
    client_id: c.clientId,
    ...(c.secret
      ? { client_secret: c.secret, token_endpoint_auth_method: "client_secret_post" }
      : { token_endpoint_auth_method: "none" }),
    // A client that only does implicit still needs a grant type oidc-provider knows.
    grant_types: grantTypes.length > 0 ? grantTypes : ["client_credentials"],
    response_types: usesRedirect ? ["code"] : [],
    redirect_uris: usesRedirect ? (c.redirectUris ?? []) : [],
    application_type: "native",
  };
}

function redirectAllowed(c: ClientSpec, uri: string): boolean {
  const loose = (u: string) => {
    const url = new URL(u);
    if (["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) url.port = "";
    return url.href;
  };
  try {
    return (c.redirectUris ?? []).some((allowed) => loose(allowed) === loose(uri));
  } catch {
    return false;
  }
}

const html = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!,
  );

/** Entra's answer with `response_mode=form_post`: a page that posts the fields to the client. */
export function formPostPage(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${html(k)}" value="${html(v)}"/>`)
    .join("\n");
  return `<!DOCTYPE html><html><head><title>Working...</title></head>
<body onload="document.forms[0].submit()">
<form method="POST" name="hiddenform" action="${html(action)}">
${inputs}
<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"/></noscript>
</form></body></html>`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}

export async function startOAuthServer(opts: OAuthServerOptions = {}): Promise<OAuthServer> {
  const tenant = opts.tenant ?? "contoso.test";
  const clients = opts.clients ?? DEFAULT_CLIENTS;
  const accounts = new Set((opts.accounts ?? DEFAULT_ACCOUNTS).map((a) => a.toLowerCase()));
  const defaultAccount = opts.defaultAccount ?? [...accounts][0]!;
  let ttlSec = opts.tokenTtlSec ?? 3600;
  const ttlFor = (clientId: string | undefined) =>
    clients.find((c) => c.clientId === clientId)?.tokenTtlSec ?? ttlSec;

  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = randomUUID();
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  const keySet = createLocalJWKSet({
    keys: [{ ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" }],
  });

  const server = createServer();
  const port = await listenOnLoopback(server, opts.port);
  const origin = `http://127.0.0.1:${port}`;
  const mount = `/${tenant}`;
  const issuer = `${origin}${mount}/v2.0`;

  let graphRoles: readonly string[] = GRAPH_ROLES;
  const claimsFor = (clientId: string, accountId: string | undefined, audience = AUDIENCE) => {
    const graph = audience === GRAPH_AUDIENCE;
    return {
      tid: tenant,
      appid: clientId,
      ver: "2.0",
      ...(accountId
        ? {
            upn: accountId,
            unique_name: accountId,
            scp: graph ? GRAPH_DELEGATED.join(" ") : DELEGATED_SCOPE,
          }
        : { roles: graph ? [...graphRoles] : [APP_ROLE] }),
    };
  };

  const configuration: Configuration = {
    clients: clients.map(clientMetadata),
    jwks: { keys: [privateJwk] },
    findAccount: (_ctx, id) =>
      accounts.has(id.toLowerCase())
        ? {
            accountId: id,
            claims: () => ({ sub: id, upn: id, email: id, preferred_username: id }),
          }
        : undefined,
    claims: { openid: ["sub"], email: ["email"], profile: ["preferred_username", "upn"] },
    scopes: ["openid", "offline_access", "profile", "email"],
    routes: {
      authorization: "/oauth2/v2.0/authorize",
      token: "/oauth2/v2.0/token",
      device_authorization: "/oauth2/v2.0/devicecode",
      code_verification: "/oauth2/v2.0/deviceauth",
      jwks: "/discovery/v2.0/keys",
      revocation: "/oauth2/v2.0/revoke",
      end_session: "/oauth2/v2.0/logout",
      userinfo: "/oidc/userinfo",
    },
    interactions: { url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      deviceFlow: {
        enabled: true,
        userCodeConfirmSource: (ctx: KoaContextWithOIDC, form: string) => {
          ctx.body = `<!DOCTYPE html><html><body onload="document.forms[0].submit()">${form}</body></html>`;
        },
        successSource: (ctx: KoaContextWithOIDC) => {
          ctx.body =
            "<!DOCTYPE html><html><body>Signed in. You may close this window.</body></html>";
        },
      },
      resourceIndicators: {
        enabled: true,
        // A sign-in for Exchange Online with offline_access is granted Graph too (widened below);
        // each token request then gets the resource its scopes name, Exchange Online when they
        // name none (a code or device code is redeemed without a scope; oidc-provider reorders
        // the code's scopes, so they cannot tell which was asked first).
        defaultResource: (ctx, _client, oneOf?: string[]) => {
          const scope = ctx.oidc.params?.scope;
          if (oneOf) {
            const wanted = scope ? resourceOf(scope) : AUDIENCE;
            return oneOf.includes(wanted) ? wanted : oneOf[0]!;
          }
          const asked = String(scope ?? "").split(" ");
          const named = [AUDIENCE, GRAPH_AUDIENCE].filter((r) =>
            asked.some((s) => (r === AUDIENCE ? RESOURCE_SCOPES : GRAPH_SCOPES).includes(s)),
          );
          return named.length > 1 ? named : resourceOf(scope);
        },
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== AUDIENCE && resource !== GRAPH_AUDIENCE)
            throw new Error(`unknown resource ${resource}`);
          return {
            scope: (resource === AUDIENCE ? RESOURCE_SCOPES : GRAPH_SCOPES).join(" "),
            audience: resource,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    // Functions, not numbers: a number would silently override the lifetime per resource (§4).
    ttl: {
      AccessToken: (_ctx, token) => ttlFor(token.clientId),
      ClientCredentials: (_ctx, token) => ttlFor(token.clientId),
      RefreshToken: () => 14 * 24 * 3600,
      DeviceCode: () => 600,
      Interaction: () => 600,
      Session: () => 3600,
      Grant: () => 14 * 24 * 3600,
      AuthorizationCode: () => 60,
      IdToken: () => 3600,
    },
    rotateRefreshToken: true,
    // Entra issues a refresh token for offline_access without an extra consent prompt.
    issueRefreshToken: (_ctx, client, code) =>
      client.grantTypeAllowed("refresh_token") && code.scopes.has("offline_access"),
    extraTokenClaims: (_ctx, token) =>
      "accountId" in token || token.kind === "ClientCredentials"
        ? claimsFor(
            token.clientId ?? "",
            "accountId" in token ? token.accountId : undefined,
            token.resourceServer?.audience,
          )
        : undefined,
    pkce: { required: () => false, methods: ["S256"] },
    cookies: { keys: [randomUUID()] },
  };
  const provider = new Provider(issuer, configuration);
  provider.proxy = false;
  // oidc-provider logs every rejected request through console; tests provoke many on purpose.
  provider.on("server_error", (_ctx, error) => console.error(`oauth-server: ${error.message}`));
  if (opts.approveDeviceCodes)
    provider.on(
      "device_authorization.success",
      (_ctx, body: { verification_uri_complete?: string }) => {
        // After this response is sent: the client polls only once it has the code.
        const url = body.verification_uri_complete;
        if (url)
          setImmediate(() => {
            signInHeadless(url).catch((error: unknown) =>
              console.error(`oauth-server: automatic device sign-in failed: ${String(error)}`),
            );
          });
      },
    );
  const callback = provider.callback();

  /** Signs in without asking anything and grants everything requested. */
  async function autoLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const hint = details.params.login_hint;
    const accountId =
      details.session?.accountId ?? (typeof hint === "string" ? hint : defaultAccount);
    if (!accounts.has(accountId.toLowerCase())) {
      await provider.interactionFinished(req, res, {
        error: "access_denied",
        error_description: `AADSTS50034: The user account ${accountId} does not exist in the ${tenant} directory.`,
      });
      return;
    }
    const clientId = String(details.params.client_id);
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId });
    if (!grant) throw new Error("grant vanished");
    const requested = String(details.params.scope ?? "").split(" ");
    grant.addOIDCScope(requested.filter((s) => !RESOURCE_SCOPES.includes(s)).join(" "));
    grant.addResourceScope(AUDIENCE, RESOURCE_SCOPES.join(" "));
    // Entra redeems one refresh token for either resource: the grant covers Graph as well.
    grant.addResourceScope(GRAPH_AUDIENCE, GRAPH_SCOPES.join(" "));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  async function mint(
    who: { upn: string } | { appId: string },
    ttl?: number,
    audience = AUDIENCE,
  ): Promise<string> {
    const appId = "appId" in who ? who.appId : PUBLIC_CLIENT_ID;
    const claims = claimsFor(appId, "upn" in who ? who.upn : undefined, audience);
    const lifetime = ttl ?? ttlFor(appId);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...claims, client_id: appId, sub: "upn" in who ? who.upn : appId })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(privateKey);
  }

  async function verify(token: string, audience = AUDIENCE): Promise<TokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, keySet, { audience, issuer });
      return payload as unknown as TokenClaims;
    } catch {
      return undefined;
    }
  }

  /** Entra's implicit grant: `response_type=token`, answered at once for `login_hint`. */
  async function implicit(url: URL, res: ServerResponse): Promise<void> {
    const q = url.searchParams;
    const client = clients.find((c) => c.clientId === q.get("client_id"));
    const redirectUri = q.get("redirect_uri") ?? "";
    if (!client || !redirectAllowed(client, redirectUri)) {
      res.writeHead(400, { "Content-Type": "text/plain" });
      res.end(
        `AADSTS50011: The redirect URI '${redirectUri}' does not match the redirect URIs configured for the application '${q.get("client_id")}'.`,
      );
      return;
    }
    const state = q.get("state") ?? "";
    const upn = (q.get("login_hint") ?? defaultAccount).toLowerCase();
    let fields: Record<string, string>;
    if (!client.grants.includes("implicit")) {
      fields = {
        error: "unsupported_response_type",
        error_description: `AADSTS700054: response_type 'token' is not enabled for the application.`,
        state,
      };
    } else if (!accounts.has(upn)) {
      fields = {
        error: "access_denied",
        error_description: `AADSTS50034: The user account ${upn} does not exist in the ${tenant} directory.`,
        state,
      };
    } else {
      const ttl = ttlFor(client.clientId);
      const audience = resourceOf(q.get("scope"));
      fields = {
        access_token: await mint({ upn }, ttl, audience),
        token_type: "Bearer",
        expires_in: String(ttl),
        scope:
          audience === GRAPH_AUDIENCE
            ? GRAPH_SCOPES.slice(1).join(" ")
            : `${AUDIENCE}/${DELEGATED_SCOPE} ${AUDIENCE}/.default`,
        state,
        session_state: randomUUID(),
      };
    }
    if (q.get("response_mode") === "form_post") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(formPostPage(redirectUri, fields));
    } else {
      res.writeHead(302, { Location: `${redirectUri}#${new URLSearchParams(fields)}` }).end();
    }
  }

  /** RFC 7662 for Dovecot: `token=<jwt>` in, `{active, upn, scope, client_id, exp}` out. */
  async function introspect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = new URLSearchParams(await readBody(req)).get("token") ?? "";
    const claims = await verify(token);
    if (!claims) return sendJson(res, 200, { active: false });
    sendJson(res, 200, {
      active: true,
      upn: (claims.upn ?? claims.appid).toLowerCase(),
      scope: claims.scp ?? (claims.roles ?? []).join(" "),
      client_id: claims.appid,
      exp: claims.exp,
    });
  }

  server.on("request", (req, res) => {
    const url = new URL(req.url ?? "/", origin);
    const path = url.pathname;
    const handle = async () => {
      if (path === "/introspect" && req.method === "POST") return introspect(req, res);
      if (path.startsWith(`${mount}/interaction/`)) return autoLogin(req, res);
      if (
        path === `${mount}/oauth2/v2.0/authorize` &&
        url.searchParams.get("response_type") === "token"
      )
        return implicit(url, res);
      if (!path.startsWith(`${mount}/`)) return sendJson(res, 404, { error: "not_found" });
      // Entra grants offline_access without a consent prompt; oidc-provider (OpenID Connect)
      // drops it unless prompt=consent, which the automatic sign-in answers anyway.
      const scope = url.searchParams.get("scope") ?? "";
      const offline =
        path === `${mount}/oauth2/v2.0/authorize` && scope.split(" ").includes("offline_access");
      if (offline && !url.searchParams.has("prompt")) url.searchParams.set("prompt", "consent");
      // Entra redeems a refresh token for any resource consented to; oidc-provider only for the
      // scopes asked at sign-in: an Exchange Online sign-in asks for Graph's delegated scopes too.
      // (A sign-in for Graph alone is not widened: its refresh token serves Graph only here.)
      if (offline && resourceOf(scope) === AUDIENCE)
        url.searchParams.set(
          "scope",
          [...new Set([...scope.split(" "), ...GRAPH_SCOPES.slice(1)])].join(" "),
        );
      // The provider lives under /<tenant> (Entra's endpoint paths); discovery under the issuer.
      const inner = path.startsWith(`${mount}/v2.0/.well-known/`)
        ? path.slice(`${mount}/v2.0`.length)
        : path.slice(mount.length);
      req.url = inner + url.search;
      (req as IncomingMessage & { originalUrl: string }).originalUrl = mount + req.url;
      return callback(req, res);
    };
    handle().catch((error: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { error: "server_error", error_description: String(error) });
    });
  });

  return {
    issuer,
    port,
    tenant,
    authorizeEndpoint: `${origin}${mount}/oauth2/v2.0/authorize`,
    tokenEndpoint: `${origin}${mount}/oauth2/v2.0/token`,
    deviceEndpoint: `${origin}${mount}/oauth2/v2.0/devicecode`,
    introspectionUrl: `${origin}/introspect`,
    jwksUrl: `${origin}${mount}/discovery/v2.0/keys`,
    setGraphRoles: (roles) => {
      graphRoles = roles;
    },
    setTokenTtl: (sec) => {
      ttlSec = sec;
    },
    mint,
    verify,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const FORM = /<form\b([^>]*)>([\s\S]*?)<\/form>/i;
const INPUT = /<input\b([^>]*)>/gi;
const attr = (attrs: string, name: string) =>
  new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, "i").exec(attrs)?.[1];
const unescapeHtml = (s: string) =>
  s.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_m, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[e]!,
  );

/**
 * A browser whose user signs in instantly: follows redirects (keeping cookies) and submits every
 * form it is shown, until a page has neither. Loopback targets that refuse the connection are
 * retried for a while, because oauth2c opens its callback only after the browser opener returned.
 * Returns the last URL and page.
 */
export async function signInHeadless(
  startUrl: string,
  opts: { retryForMs?: number } = {},
): Promise<{ url: string; status: number; body: string }> {
  const cookies = new Map<string, string>();
  let url = startUrl;
  let init: RequestInit = { method: "GET" };
  for (let hop = 0; hop < 20; hop++) {
    const response = await fetchRetrying(
      url,
      {
        ...init,
        redirect: "manual",
        headers: {
          ...(init.headers as Record<string, string>),
          Cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        },
      },
      opts.retryForMs ?? 10_000,
    );
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      url = new URL(location, url).href;
      init = { method: "GET" };
      continue;
    }
    const body = await response.text();
    const form = FORM.exec(body);
    if (!form) return { url, status: response.status, body };
    const fields = new URLSearchParams();
    for (const input of form[2]!.matchAll(INPUT)) {
      const name = attr(input[1]!, "name");
      if (name) fields.append(unescapeHtml(name), unescapeHtml(attr(input[1]!, "value") ?? ""));
    }
    url = new URL(unescapeHtml(attr(form[1]!, "action") ?? url), url).href;
    init = {
      method: "POST",
      body: fields.toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    };
  }
  throw new Error(`signInHeadless: more than 20 hops from ${startUrl}`);
}

async function fetchRetrying(
  url: string,
  init: RequestInit,
  retryForMs: number,
): Promise<Response> {
  const target = new URL(url);
  if (target.hostname === "localhost") target.hostname = "127.0.0.1"; // where oauth2c listens
  const deadline = Date.now() + retryForMs;
  for (;;) {
    try {
      return await fetch(target, init);
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (code !== "ECONNREFUSED" || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

// CLI: `node dist/scripts/standin/oauth-server.js [port] [ttlSec]` serves until SIGTERM/SIGINT.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const server = await startOAuthServer({
    port: Number(process.argv[2] ?? 11180),
    tokenTtlSec: Number(process.argv[3] ?? 3600),
  });
  console.log(`AUTHORITY_URL=${server.issuer}`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on("SIGTERM", stop).on("SIGINT", stop);
}
