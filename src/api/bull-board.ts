// Bull Board at /admin/queues for every pulse queue. The admin token gets the full board; the
// read token a read-only one; with ADMIN_TOKEN unset the board is off.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RequestHandler, Router } from 'express';
import { presentedToken, requireToken, tokenMatches, type FailedAuthLimiter } from './auth.js';

export const BULL_BOARD_PATH = '/admin/queues';

function board(queues: Queue[], readOnlyMode: boolean): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode })),
    serverAdapter,
    options: { uiConfig: { boardTitle: readOnlyMode ? 'pulse (read-only)' : 'pulse' } },
  });
  return serverAdapter.getRouter() as Router;
}

export function bullBoard(deps: {
  queues: Queue[];
  adminToken: string | undefined;
  readToken: string | undefined;
  limiter: FailedAuthLimiter;
}): RequestHandler[] {
  const gate = requireToken(
    [deps.adminToken, deps.adminToken ? deps.readToken : undefined],
    'pulse admin',
    deps.limiter,
    'Bull Board is disabled: set ADMIN_TOKEN to use it',
    true,
  );
  if (!deps.adminToken) return [gate];
  const full = board(deps.queues, false);
  const viewer = board(deps.queues, true);
  const admin = deps.adminToken;
  return [
    gate,
    (req, res, next) => {
      const token = presentedToken(req) ?? '';
      (tokenMatches(token, admin) ? full : viewer)(req, res, next);
    },
  ];
}
