// The table from a DAV failure to the project's classes: the cases Radicale cannot be made to show.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyDavFailure, DavError, type DavFault } from "../../../src/dav/failure.js";

const PUT = "PUT https://mail.example.org/dav/alice%40contoso.test/Calendar/a.ics";

function classify(fault: DavFault, phase: "login" | "store" = "store") {
  return classifyDavFailure(new DavError(fault, phase, PUT, "alice@contoso.test"));
}

describe("classifyDavFailure", () => {
  it("507 and a quota refusal are the quota class", () => {
    const full = classify({ kind: "status", status: 507, quota: true });
    assert.equal(full.class, "quota_exceeded");
    assert.equal(full.lostConnection, false);
    assert.match(full.remedy, /raise its quota/);
    assert.equal(classify({ kind: "status", status: 403, quota: true }).class, "quota_exceeded");
  });

  it("a 5xx or 429 is retried, a 403 after the login is not a password problem", () => {
    const failed = classify({ kind: "status", status: 503, quota: false });
    assert.deepEqual([failed.class, failed.lostConnection], ["other", true]);
    assert.match(failed.remedy, /HTTP 503/);
    assert.equal(classify({ kind: "status", status: 429, quota: false }).lostConnection, true);
    const forbidden = classify({ kind: "status", status: 403, quota: false });
    assert.deepEqual([forbidden.class, forbidden.lostConnection], ["other", false]);
    assert.match(forbidden.remedy, /DAV_CALENDAR_HOME/);
  });

  it("a 403 on login is the destination password; a 401 always is", () => {
    const login = classify({ kind: "status", status: 403, quota: false }, "login");
    assert.equal(login.class, "auth_failed_destination");
    assert.equal(
      classify({ kind: "status", status: 401, quota: false }).class,
      "auth_failed_destination",
    );
  });

  it("a home that discovery cannot find names DAV_URL and the home settings", () => {
    const lost = classify({ kind: "protocol", problem: "cannot find homeUrl" }, "login");
    assert.deepEqual([lost.class, lost.lostConnection], ["other", false]);
    assert.match(lost.remedy, /DAV_URL .*DAV_CALENDAR_HOME and DAV_ADDRESSBOOK_HOME/);
  });

  it("an answer that cannot be used after the login names the request, not discovery", () => {
    const bad = classify({ kind: "protocol", problem: "invalid ical: missing END" });
    assert.deepEqual([bad.class, bad.lostConnection], ["other", false]);
    assert.match(
      bad.remedy,
      /^PUT https:\/\/mail\.example\.org\/.*a\.ics failed \(invalid ical: missing END\)/,
    );
  });

  it("a timeout is the network class with the server's address", () => {
    const timeout = classify({ kind: "network", cause: "no answer within 120 s" });
    assert.deepEqual([timeout.class, timeout.lostConnection], ["connect_failed_destination", true]);
    assert.match(
      timeout.remedy,
      /at https:\/\/mail\.example\.org could not be reached \(no answer within 120 s\)/,
    );
  });
});
