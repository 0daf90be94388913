// The demo's options, checked: days, end, step, and how far back pulse accepts points.
import { formatDuration, parseDuration } from '../infra/duration.js';
import { SECOND, MINUTE, HOUR, DAY } from '../infra/time.js';
import { UsageError } from '../infra/usage-error.js';
import { ISO_TIME } from '../api/params.js';

/** `--end`: when the data ends, epoch ms; checked against the clock and how far back pulse accepts points. */
export function parseEnd(text: string, days: number, acceptMs: number, clock: number): number {
  const end = ISO_TIME.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(end))
    throw new UsageError(
      `--end ${JSON.stringify(text)}: expected an ISO-8601 date-time with a zone (2026-11-29T18:00:00Z) or a date (2026-11-29)`,
    );
  if (end > clock + MINUTE)
    throw new UsageError(
      `--end ${text}: is in the future (now is ${new Date(clock).toISOString()})`,
    );
  if (clock - (end - days * DAY) > acceptMs)
    throw new UsageError(
      `--end ${text} with --days ${days} starts ${formatDuration(clock - (end - days * DAY))} ago, further back than pulse accepts points (${ACCEPTED(acceptMs)}): ingest would refuse them. Use a later --end or fewer --days.`,
    );
  return end;
}

export function parseDays(text: string, acceptMs: number): number {
  const days = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(days) || days < 1)
    throw new UsageError(
      `--days ${JSON.stringify(text)}: expected a whole number of days, at least 1`,
    );
  checkRetention(days, acceptMs);
  return days;
}

/** How far back points are accepted, and why (config retention.acceptMs). */
const ACCEPTED = (acceptMs: number) =>
  `${formatDuration(acceptMs)}: RAW_RETENTION, or ROLLUP_1M_RETENTION less a margin where that is shorter`;

export function checkRetention(days: number, acceptMs: number): void {
  if (days * DAY > acceptMs)
    throw new UsageError(
      `--days ${days} goes back further than pulse accepts points (${ACCEPTED(acceptMs)}): ingest refuses older ones. ` +
        `Use --days ${Math.floor(acceptMs / DAY)} or less.`,
    );
}

export function parseStep(text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms < SECOND || ms % SECOND !== 0 || ms > HOUR)
    throw new UsageError(
      `--step ${JSON.stringify(text)}: expected whole seconds from 1s to 1h (e.g. 10s, 60s, 5m)`,
    );
  return ms;
}
