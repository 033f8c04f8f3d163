// The token wing's face: all the engine, the plan and the commands use of tokens (obtain one,
// keep it fresh, the file imapsync reads, import or forget one). Everything else in src/token/ is
// the wing's inside, with Entra's facts and oauth2c at its bottom; the architecture check
// (.dependency-cruiser.json) keeps it so. Entra's facts (entra.ts) may be read from outside too.
export type { AudienceName } from "./audiences.js";
export { checkToken } from "./checks.js";
export { describeExpiry, type StoredToken } from "./claims.js";
export {
  createTokenKeeper,
  expectationsOf,
  obtainToken,
  type SignInOptions,
  type TokenIo,
} from "./grants.js";
export { importToken } from "./import.js";
export type { TokenKeeper } from "./keeper.js";
export { oauth2cVersion } from "./oauth2c/run.js";
export { forgetToken, tokenPaths } from "./store.js";
