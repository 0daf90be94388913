// Where route builders put their routes: the Express app itself, or the app under a path
// prefix. Routes sit on the app directly rather than on nested routers, so a request walks one
// list of layers and its URL is parsed once.
import type { RequestHandler } from 'express';

export interface RouteTable {
  get(path: string, ...handlers: RequestHandler[]): unknown;
  post(path: string, ...handlers: RequestHandler[]): unknown;
}

/** `table` with `prefix` in front of every path. */
export function under(table: RouteTable, prefix: string): RouteTable {
  return {
    get: (path, ...handlers) => table.get(prefix + path, ...handlers),
    post: (path, ...handlers) => table.post(prefix + path, ...handlers),
  };
}
