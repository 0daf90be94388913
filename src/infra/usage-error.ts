// The error a command line the scripts cannot use raises: their entry points print its message
// with the usage text and exit 1 (or 2 where the script documents it), never a stack trace.
export class UsageError extends Error {
  override name = 'UsageError';
}
