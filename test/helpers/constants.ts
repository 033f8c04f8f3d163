/** The tenant of every test token (a GUID, so that the tid check applies). */
export const TENANT = "11111111-2222-3333-4444-555555555555";
/** The admin who signs in and holds FullAccess in the scenes. */
export const ADMIN = "admin@contoso.test";
/** The app registration the doubles' Entra stand-in knows. */
export const ENTRA_APP = { TENANT_ID: TENANT, APP_ID: "app-ok" };
