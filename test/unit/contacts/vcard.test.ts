// Graph contacts to vCard 3.0 (the default, Zimbra's) and 4.0, from Microsoft's documented contact
// (fixtures/graph/contact-get-full.http) and a full one; every expected line written by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contactToVcard, contactUid } from "../../../src/contacts/vcard.js";
import type { GraphContact } from "../../../src/graph/types.js";
import { graphExample } from "../../helpers/graph-fixtures.js";

function lines(text: string): string[] {
  assert.ok(text.endsWith("\r\n"));
  for (const line of text.slice(0, -2).split("\r\n"))
    assert.ok(Buffer.byteLength(line) <= 75, `folded at 75 octets: ${line}`);
  return text
    .replace(/\r\n[ \t]/g, "")
    .slice(0, -2)
    .split("\r\n");
}

const documented = graphExample("contact-get-full.http").body as GraphContact;

const supplier: GraphContact = {
  id: "AAMkAGI2-fournisseur-1",
  displayName: "Élodie Dupont-Lefèvre",
  givenName: "Élodie",
  middleName: "Marie",
  surname: "Dupont-Lefèvre",
  title: "Mme",
  nickName: "Élo",
  emailAddresses: [
    { name: "Élodie (travail)", address: "elodie@fournisseur-ete.fr" },
    { name: "Élodie", address: "elodie.dupont@exemple.fr" },
    { name: "", address: "e.dupont@exemple.org" },
  ],
  businessPhones: ["+33 1 23 45 67 89", "+33 1 23 45 67 90"],
  homePhones: ["+33 4 78 00 00 00"],
  mobilePhone: "+33 6 12 34 56 78",
  businessAddress: {
    street: "12 rue de l'Été",
    city: "Lyon",
    state: "",
    postalCode: "69001",
    countryOrRegion: "France",
  },
  homeAddress: {
    street: "3 chemin des Prés",
    city: "Écully",
    postalCode: "69130",
    countryOrRegion: "France",
  },
  otherAddress: {},
  companyName: "Fournitures Été SARL",
  department: "Achats",
  jobTitle: "Responsable des achats",
  birthday: "1980-05-17T11:59:00Z",
  personalNotes: "Préfère être appelée le matin.\r\nLivraisons: lundi, jeudi",
  categories: ["Fournisseurs", "Priorité"],
};
const photo = {
  bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
  contentType: "image/jpeg",
};

describe("vCard 3.0 (the default)", () => {
  it("converts Microsoft's documented contact: names, its one email, no empty address", () => {
    const card = lines(contactToVcard({ contact: documented }).text);
    assert.equal(card[0], "BEGIN:VCARD");
    assert.equal(card[1], "VERSION:3.0");
    assert.equal(card.at(-1), "END:VCARD");
    for (const line of [
      "FN:Alex Wilber",
      "N:Wilber;Alex;;;",
      "EMAIL;TYPE=INTERNET:Alex@FineArtSchool.net",
    ])
      assert.ok(card.includes(line), line);
    assert.ok(!card.some((l) => /^(ADR|TEL|BDAY|NOTE|ORG|PHOTO)/.test(l)), card.join("\n"));
  });

  it("carries every email, phone and address, the company, the birthday's date only, notes, categories and the photo", () => {
    const result = contactToVcard({ contact: supplier, photo });
    const card = lines(result.text);
    const expected = [
      "FN:Élodie Dupont-Lefèvre",
      "N:Dupont-Lefèvre;Élodie;Marie;Mme;",
      "NICKNAME:Élo",
      "EMAIL;TYPE=INTERNET:elodie@fournisseur-ete.fr",
      "EMAIL;TYPE=INTERNET:elodie.dupont@exemple.fr",
      "EMAIL;TYPE=INTERNET:e.dupont@exemple.org",
      "TEL;TYPE=WORK,VOICE:+33 1 23 45 67 89",
      "TEL;TYPE=WORK,VOICE:+33 1 23 45 67 90",
      "TEL;TYPE=HOME,VOICE:+33 4 78 00 00 00",
      "TEL;TYPE=CELL:+33 6 12 34 56 78",
      "ADR;TYPE=WORK:;;12 rue de l'Été;Lyon;;69001;France",
      "ADR;TYPE=HOME:;;3 chemin des Prés;Écully;;69130;France",
      "ORG:Fournitures Été SARL;Achats",
      "TITLE:Responsable des achats",
      "BDAY;VALUE=DATE:19800517",
      "NOTE:Préfère être appelée le matin.\\nLivraisons: lundi\\, jeudi",
      "CATEGORIES:Fournisseurs,Priorité",
      "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ",
    ];
    for (const line of expected)
      assert.ok(card.includes(line), `missing ${line} in\n${card.join("\n")}`);
    assert.equal(
      card.filter((l) => l.startsWith("ADR")).length,
      2,
      "the empty other address is skipped",
    );
    assert.ok(card.includes(`UID:${result.uid}`));
    assert.equal(result.label, "Élodie Dupont-Lefèvre");
  });

  it("builds a name when Graph's display name is empty", () => {
    const card = lines(
      contactToVcard({ contact: { id: "x", displayName: "", companyName: "Boulangerie Été" } })
        .text,
    );
    assert.ok(card.includes("FN:Boulangerie Été"));
  });
});

describe("vCard 4.0 (VCARD_VERSION=4.0)", () => {
  it("writes 4.0's forms: urn:uuid UID, lowercase types, a data: URI photo, RELATED", () => {
    const result = contactToVcard(
      { contact: { ...supplier, spouseName: "Marc", children: ["Léa"] }, photo },
      "4.0",
    );
    const card = lines(result.text);
    assert.equal(card[1], "VERSION:4.0");
    const expected = [
      `UID:urn:uuid:${result.uid}`,
      "EMAIL:elodie@fournisseur-ete.fr",
      "TEL;TYPE=work,voice:+33 1 23 45 67 89",
      "TEL;TYPE=cell:+33 6 12 34 56 78",
      "ADR;TYPE=home:;;3 chemin des Prés;Écully;;69130;France",
      "BDAY;VALUE=DATE:19800517",
      "RELATED;TYPE=spouse;VALUE=TEXT:Marc",
      "RELATED;TYPE=child;VALUE=TEXT:Léa",
      "PHOTO:data:image/jpeg;base64,/9j/4AAQ",
    ];
    for (const line of expected)
      assert.ok(card.includes(line), `missing ${line} in\n${card.join("\n")}`);
    assert.equal(card.at(-1), "END:VCARD");
  });
});

describe("UIDs", () => {
  it("are UUID-shaped, the same for the same Graph id on every run, different for another id", () => {
    const uid = contactUid(documented.id);
    assert.match(uid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(contactUid(documented.id), uid);
    assert.notEqual(contactUid(`${documented.id}x`), uid);
    assert.equal(contactToVcard({ contact: documented }).uid, uid);
  });
});
