// Graph's recurrence patterns (Microsoft's own examples, fixtures/graph/recurrence-*.json) as
// RRULEs, per the table of microsoft-graph.md §6, and the dates a rule yields.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { occurrences, rrule } from "../../../src/calendar/recurrence.js";
import type { GraphRecurrence } from "../../../src/graph/types.js";
import { graphJson } from "../../helpers/graph-fixtures.js";

const pattern = (file: string) => (graphJson(file) as Pick<GraphRecurrence, "pattern">).pattern;
const range = (file: string) => (graphJson(file) as Pick<GraphRecurrence, "range">).range;
const combined = (file: string) => (graphJson(file) as { recurrence: GraphRecurrence }).recurrence;
const noEnd = range("recurrence-range-noEnd.json");
const paris = { allDay: false, zone: "Europe/Paris" } as const;

describe("RRULE from Graph's patterns", () => {
  it("writes each documented pattern type as the table says, ignoring Graph's filler fields", () => {
    const cases: [string, string][] = [
      ["recurrence-pattern-daily.json", "FREQ=DAILY;INTERVAL=3"],
      ["recurrence-pattern-weekly.json", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU;WKST=SU"],
      ["recurrence-pattern-absoluteMonthly.json", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=7"],
      ["recurrence-pattern-relativeMonthly.json", "FREQ=MONTHLY;INTERVAL=1;BYDAY=TH,FR;BYSETPOS=1"],
      ["recurrence-pattern-absoluteYearly.json", "FREQ=YEARLY;INTERVAL=1;BYMONTH=4;BYMONTHDAY=15"],
      ["recurrence-pattern-relativeYearly.json", "FREQ=YEARLY;INTERVAL=1;BYMONTH=11;BYDAY=-1WE"],
    ];
    for (const [file, expected] of cases)
      assert.equal(rrule({ pattern: pattern(file), range: noEnd }, paris), expected, file);
    // What Graph returns on a weekly series: month 0, dayOfMonth 0, index "first" are noise.
    assert.equal(
      rrule(
        {
          pattern: {
            type: "weekly",
            interval: 1,
            month: 0,
            dayOfMonth: 0,
            daysOfWeek: ["monday"],
            firstDayOfWeek: "monday",
            index: "first",
          },
          range: noEnd,
        },
        paris,
      ),
      "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;WKST=MO",
    );
  });

  it("ends a numbered range with COUNT, an end date with UNTIL at the end of that day in the series' zone, in UTC", () => {
    const daily = pattern("recurrence-pattern-daily.json");
    assert.equal(
      rrule({ pattern: daily, range: range("recurrence-range-numbered.json") }, paris),
      "FREQ=DAILY;INTERVAL=3;COUNT=10",
    );
    // 2017-07-31 23:59:59 in Paris (CEST, UTC+2) is 21:59:59 UTC; in Los Angeles (PDT) 06:59:59 the next day.
    const endDate = range("recurrence-range-endDate.json");
    assert.equal(
      rrule({ pattern: daily, range: endDate }, paris),
      "FREQ=DAILY;INTERVAL=3;UNTIL=20170731T215959Z",
    );
    assert.equal(
      rrule({ pattern: daily, range: endDate }, { allDay: false, zone: "America/Los_Angeles" }),
      "FREQ=DAILY;INTERVAL=3;UNTIL=20170801T065959Z",
    );
    assert.equal(
      rrule({ pattern: daily, range: endDate }, { allDay: true }),
      "FREQ=DAILY;INTERVAL=3;UNTIL=20170731",
    );
  });

  it("knows no rule for an undocumented pattern type", () => {
    assert.equal(rrule({ pattern: { type: "hourly" }, range: noEnd }, paris), undefined);
  });
});

describe("the dates a rule yields", () => {
  it("ends the documented weekly series on Dec 25, since Dec 31 2017 is a Sunday", () => {
    const dates = occurrences(
      combined("recurrence-weekly-enddate-combined.json"),
      "2017-09-04T12:00:00",
      "2018-12-31T23:59:59",
      false,
    );
    assert.equal(dates.length, 17);
    assert.equal(dates[0], "2017-09-04T12:00:00");
    assert.equal(dates.at(-1), "2017-12-25T12:00:00");
    // The wall time stays at noon across the end of daylight-saving time (Nov 5 2017).
    assert.ok(dates.includes("2017-11-06T12:00:00"));
  });

  it("expands an endless series only up to the window's end", () => {
    const dates = occurrences(
      combined("recurrence-relativeMonthly-noend-combined.json"),
      "2017-09-07T10:00:00",
      "2018-01-31T23:59:59",
      false,
    );
    assert.deepEqual(dates, ["2017-09-07T10:00:00", "2017-11-02T10:00:00", "2018-01-04T10:00:00"]);
  });

  it("yields dates for an all-day series", () => {
    const weekly = combined("recurrence-weekly-enddate-combined.json");
    assert.deepEqual(occurrences(weekly, "2017-09-04", "2017-09-20", true), [
      "2017-09-04",
      "2017-09-11",
      "2017-09-18",
    ]);
  });
});
