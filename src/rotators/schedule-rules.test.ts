import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCofferError } from '../core/errors.js';
import { nextCronTime, parseCron } from './cron.js';
import { compileRules, nextDue, rulesFromPeriod } from './schedule-rules.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1, 12, 0); // a Thursday

const badRequest = (fn: () => unknown, message?: RegExp): void => {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isCofferError(error) && error.code === 'bad_request', String(error));
    if (message) assert.match((error as Error).message, message);
    return true;
  });
};

describe('rotation rules', () => {
  it('counts AutomaticallyAfterDays and rate() from the last rotation, or from configuration before the first', () => {
    assert.equal(nextDue(compileRules({ AutomaticallyAfterDays: 30 }), undefined, T0), T0 + 30 * DAY);
    assert.equal(nextDue(compileRules({ ScheduleExpression: 'rate(1 day)' }), T0 + 5 * HOUR, T0), T0 + 5 * HOUR + DAY);
    assert.equal(nextDue(compileRules({ ScheduleExpression: 'rate(6 hours)' }), T0, T0 - DAY), T0 + 6 * HOUR);
  });

  it('gives no due time to rules that rotate only on demand', () => {
    assert.equal(nextDue(compileRules(undefined), T0, T0), undefined);
    assert.equal(nextDue(compileRules({}), T0, T0), undefined);
    assert.equal(nextDue(compileRules({ Duration: '3h' }), T0, T0), undefined);
  });

  it('refuses periods AWS refuses and rules it cannot read', () => {
    badRequest(() => compileRules({ ScheduleExpression: 'rate(3 hours)' }), /4 hours/);
    badRequest(() => compileRules({ ScheduleExpression: 'rate(1001 days)' }));
    badRequest(() => compileRules({ AutomaticallyAfterDays: 0 }));
    badRequest(() => compileRules({ AutomaticallyAfterDays: 1, ScheduleExpression: 'rate(1 day)' }), /not both/);
    badRequest(() => compileRules({ ScheduleExpression: 'every tuesday' }), /rate\(N hours\)/);
    badRequest(() => compileRules({ ScheduleExpression: 'cron(0 0 L * ? *)' }), /not supported/);
    badRequest(() => compileRules({ ScheduleExpression: 'cron(0 0 * * ? 2020)' }, T0), /no run/);
  });

  it('refuses cron schedules that rotate more often than every 4 hours, as AWS does', () => {
    badRequest(() => compileRules({ ScheduleExpression: 'cron(* * * * ? *)' }, T0), /every 4 hours/);
    badRequest(() => compileRules({ ScheduleExpression: 'cron(0 0,3 * * ? *)' }, T0), /every 4 hours/);
    // One hour apart only across a leap day (Feb 29 23:00 → Mar 1 00:00 in 2028), years ahead.
    badRequest(() => compileRules({ ScheduleExpression: 'cron(0 0,23 1,29 * ? *)' }, T0), /every 4 hours/);
    assert.equal(compileRules({ ScheduleExpression: 'cron(0 0,4,8,12,16,20 * * ? *)' }, T0).kind, 'cron');
    assert.equal(compileRules({ ScheduleExpression: 'cron(0 10 ? * MON *)' }, T0).kind, 'cron');
  });

  it('checks Duration as AWS does: whole hours, within the day and shorter than the period', () => {
    assert.equal(compileRules({ ScheduleExpression: 'rate(4 hours)', Duration: '3h' }, T0).kind, 'every');
    assert.equal(compileRules({ AutomaticallyAfterDays: 2, Duration: '24h' }, T0).kind, 'every');
    badRequest(() => compileRules({ ScheduleExpression: 'rate(4 hours)', Duration: '5h' }, T0), /next rotation window/);
    badRequest(() => compileRules({ AutomaticallyAfterDays: 2, Duration: 'hh' }, T0), /whole number of hours/);
    badRequest(() => compileRules({ AutomaticallyAfterDays: 2, Duration: '0h' }, T0), /whole number of hours/);
    badRequest(() => compileRules({ AutomaticallyAfterDays: 2, Duration: '25h' }, T0), /whole number of hours/);
    badRequest(() => compileRules({ ScheduleExpression: 'cron(0 0,6,12,18 * * ? *)', Duration: '8h' }, T0), /next rotation window/);
    // Rules stored earlier are read back as they are: only configuring them checks.
    assert.equal(compileRules({ AutomaticallyAfterDays: 1, Duration: '99h' }).kind, 'every');
  });

  it('translates a Vault rotation_period into a rate expression', () => {
    assert.deepEqual(rulesFromPeriod(2 * 86_400), { ScheduleExpression: 'rate(2 days)' });
    assert.deepEqual(rulesFromPeriod(6 * 3600), { ScheduleExpression: 'rate(6 hours)' });
    badRequest(() => rulesFromPeriod(90));
  });
});

describe('AWS cron expressions', () => {
  it('finds the next matching minute in UTC', () => {
    const daily = parseCron('0 4 * * ? *');
    assert.equal(nextCronTime(daily, T0), Date.UTC(2026, 0, 2, 4, 0));
    const quarterHour = parseCron('0/15 * * * ? *');
    assert.equal(nextCronTime(quarterHour, T0), Date.UTC(2026, 0, 1, 12, 15));
  });

  it('counts days of the week from SUN = 1, and reads day names', () => {
    // 2026-01-01 is a Thursday: the next Monday is the 5th.
    assert.equal(nextCronTime(parseCron('30 9 ? * 2 *'), T0), Date.UTC(2026, 0, 5, 9, 30));
    assert.equal(nextCronTime(parseCron('30 9 ? * MON *'), T0), Date.UTC(2026, 0, 5, 9, 30));
    assert.equal(nextCronTime(parseCron('0 0 ? * SUN,SAT *'), T0), Date.UTC(2026, 0, 3, 0, 0));
  });

  it('honours day of month, month and year', () => {
    assert.equal(nextCronTime(parseCron('0 8 1 JUN ? *'), T0), Date.UTC(2026, 5, 1, 8, 0));
    assert.equal(nextCronTime(parseCron('0 8 1 * ? 2027'), T0), Date.UTC(2027, 0, 1, 8, 0));
    assert.equal(nextCronTime(parseCron('0 8 31 2 ? *'), T0), undefined, 'February never has a 31st');
  });

  it('refuses malformed fields, naming the field', () => {
    badRequest(() => parseCron('0 4 * *'), /six fields/);
    badRequest(() => parseCron('61 4 * * ? *'), /minutes/);
    badRequest(() => parseCron('0 4 * FOO ? *'), /month/);
    badRequest(() => parseCron('? 4 * * ? *'), /"\?"/);
    badRequest(() => parseCron('0 10 15 * MON *', true), /exactly one of day-of-month and day-of-week/);
    badRequest(() => parseCron('0 10 ? * ? *', true), /exactly one of day-of-month and day-of-week/);
    // Rules an earlier build stored are still read: both restricted days mean either may match.
    assert.equal(nextCronTime(parseCron('0 10 15 * MON *', false), T0), Date.UTC(2026, 0, 5, 10, 0));
    assert.equal(compileRules({ ScheduleExpression: 'cron(0 12 * * * *)' }).kind, 'cron');
    badRequest(() => parseCron('0 4 5-1 * ? *'), /backwards/);
    badRequest(() => parseCron('0 4 ? * SAT-SUN *'), /backwards/);
  });
});
