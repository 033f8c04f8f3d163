// Source collections and items as a part's source hands them to a destination (src/items/contract.ts).
import type { SourceItem } from "../../src/items/contract.js";

/** A calendar that is not the default one, its name accented. */
export const PROJETS = {
  kind: "calendar",
  id: "c9",
  name: "Projets Été",
  isDefault: false,
} as const;

/** A subfolder of the default contacts folder, named as the source names subfolders. */
export const FOURNISSEURS = {
  kind: "contacts",
  id: "f9",
  name: "Contacts/Fournisseurs",
  isDefault: false,
} as const;

export function sourceItem(uid: string, body: string): SourceItem {
  return { uid, version: "1", body, label: uid, losses: [] };
}
