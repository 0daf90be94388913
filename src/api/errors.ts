// Errors as RFC 9457 problem+json: one class to throw, one middleware to answer with.
// Bodies say which field is wrong and why; they never echo secrets or stack traces.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { FieldError } from '../metrics/point.js';

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: {
      errors?: FieldError[];
      headers?: Record<string, string | string[]>;
      /** More members of the problem object (RFC 9457 extension members). */
      members?: Record<string, unknown>;
    } = {},
  ) {
    super(detail);
  }
}

export function sendProblem(
  res: Response,
  status: number,
  title: string,
  detail: string,
  errors?: FieldError[],
  members?: Record<string, unknown>,
) {
  res
    .status(status)
    .type('application/problem+json')
    .json({
      type: 'about:blank',
      title,
      status,
      detail,
      instance: res.req.originalUrl,
      ...members,
      ...(errors ? { errors } : {}),
    });
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, 404, 'Not Found', `no route for ${req.method} ${req.path}`);
};

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

export function errorHandler(log: { error(obj: object, msg: string): void }): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.extra.headers ?? {})) res.setHeader(k, v);
      sendProblem(res, err.status, err.title, err.detail, err.extra.errors, err.extra.members);
      return;
    }
    const parser = err as BodyParserError;
    if (parser.type === 'entity.too.large') {
      sendProblem(
        res,
        413,
        'Payload Too Large',
        `the body is over the limit of ${parser.limit} bytes`,
      );
      return;
    }
    if (parser.type === 'entity.parse.failed') {
      sendProblem(
        res,
        400,
        'Bad Request',
        `the body is not valid JSON: ${(err as Error).message}`,
        [{ field: 'body', pointer: '', reason: 'invalid JSON' }],
      );
      return;
    }
    if (parser.type === 'encoding.unsupported' || parser.type === 'charset.unsupported') {
      sendProblem(res, 415, 'Unsupported Media Type', (err as Error).message);
      return;
    }
    log.error({ err }, 'unhandled error in request');
    sendProblem(
      res,
      500,
      'Internal Server Error',
      'the request failed; the server log has the details',
    );
  };
}
