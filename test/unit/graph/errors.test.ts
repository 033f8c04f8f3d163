// Graph's errors by status and code (microsoft-graph.md §9), from the documented envelope and the
// composed examples of fixtures/graph/composed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyGraphError, errorCode, retryAfterMs } from "../../../src/graph/errors.js";
import { graphExample, graphJson } from "../../helpers/graph-fixtures.js";

function verdictOf(file: string) {
  const e = graphExample(file);
  return classifyGraphError(e.status, errorCode(e.body), e.headers["retry-after"] ?? null);
}

describe("Graph errors", () => {
  it("reads the code of the documented envelope", () => {
    assert.equal(typeof errorCode(graphJson("error-response-format.json")), "string");
    assert.equal(errorCode({ error: { message: "no code" } }), undefined);
    assert.equal(errorCode(undefined), undefined);
  });

  it("asks for a new token on 401, ends not_delegated on 403, mailbox_not_enabled on 404 MailboxNotEnabledForRESTAPI", () => {
    assert.deepEqual(verdictOf("composed/error-401-invalidauthenticationtoken.http"), {
      kind: "renew_token",
    });
    assert.deepEqual(verdictOf("composed/error-403-erroraccessdenied.http"), {
      kind: "fail",
      class: "not_delegated",
    });
    assert.deepEqual(verdictOf("composed/error-404-mailboxnotenabledforrestapi.http"), {
      kind: "fail",
      class: "mailbox_not_enabled",
    });
  });

  it("skips an item that vanished (404 ErrorItemNotFound)", () => {
    assert.deepEqual(verdictOf("composed/error-404-erroritemnotfound.http"), { kind: "gone" });
  });

  it("waits on 429 with Graph's Retry-After, and on 503/504", () => {
    assert.deepEqual(verdictOf("composed/error-429-mailboxconcurrency.http"), {
      kind: "wait",
      retryAfterMs: 1000,
    });
    assert.deepEqual(classifyGraphError(503, undefined, "7"), { kind: "wait", retryAfterMs: 7000 });
    assert.deepEqual(classifyGraphError(504, undefined, null), { kind: "wait" });
  });

  it("decides on the code, never on the message, and ignores the code's case", () => {
    assert.deepEqual(classifyGraphError(404, "mailboxnotenabledforrestapi", null), {
      kind: "fail",
      class: "mailbox_not_enabled",
    });
    assert.deepEqual(classifyGraphError(404, "SomethingElse", null), {
      kind: "fail",
      class: "other",
    });
  });

  it("retries other server errors as a lost source and fails the rest as other", () => {
    assert.deepEqual(classifyGraphError(500, "generalException", null), {
      kind: "fail",
      class: "connect_failed_source",
    });
    assert.deepEqual(classifyGraphError(400, "BadRequest", null), { kind: "fail", class: "other" });
  });

  it("reads Retry-After in seconds or as an HTTP date", () => {
    assert.equal(retryAfterMs("30"), 30_000);
    assert.equal(
      retryAfterMs("Mon, 07 Dec 2026 14:00:10 GMT", new Date("2026-12-07T14:00:00Z")),
      10_000,
    );
    assert.equal(retryAfterMs("soon"), undefined);
    assert.equal(retryAfterMs(null), undefined);
  });
});
