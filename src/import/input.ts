// Opening an import's input (a file or stdin), settling its format, and reading its bytes,
// gunzipped when it is gzip (found by its first two bytes, whatever its name).
import { open } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export const FORMATS = ['ndjson', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

const READ_CHUNK = 1024 * 1024;

/** A fatal error: the import stops (exit 1). Batches committed before it stay stored. */
export class ImportError extends Error {
  override name = 'ImportError';
}

export interface Input {
  name: string;
  format: Format;
  stream: Readable;
  /** Bytes, when the input is a regular file. */
  size: number | null;
}

function isFormat(v: string): v is Format {
  return (FORMATS as readonly string[]).includes(v);
}

export function checkFormat(format: string | undefined): Format | undefined {
  if (format === undefined) return undefined;
  const f = format.toLowerCase();
  if (!isFormat(f)) throw new ImportError(`unknown --format "${format}": expected ndjson or csv`);
  return f;
}

export function formatFromName(file: string): Format {
  if (file === '-') throw new ImportError('reading stdin needs --format ndjson or --format csv');
  const gz = path.extname(file).toLowerCase() === '.gz';
  const ext = path.extname(gz ? file.slice(0, -3) : file).toLowerCase();
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  if (ext === '.csv') return 'csv';
  throw new ImportError(
    `cannot tell the format of ${file} from its extension (.ndjson, .jsonl or .csv, each maybe with .gz): pass --format ndjson or --format csv`,
  );
}

/** Opens the file (or stdin) and settles its format; every "cannot start" error is here. */
export async function openInput(
  file: string,
  format: string | undefined,
  stdin: Readable = process.stdin,
): Promise<Input> {
  const given = checkFormat(format);
  if (file === '-')
    return { name: '<stdin>', format: given ?? formatFromName(file), stream: stdin, size: null };
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImportError(`file not found: ${file}`);
    if (code === 'EACCES' || code === 'EPERM')
      throw new ImportError(`cannot read ${file}: permission denied`);
    throw new ImportError(`cannot open ${file}: ${(err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new ImportError(`${file} is a directory, not a file`);
    const resolved = given ?? formatFromName(file);
    const stream = handle.createReadStream({ highWaterMark: READ_CHUNK });
    return { name: file, format: resolved, stream, size: st.isFile() ? st.size : null };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

function bufferOf(chunk: Buffer | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/** The input's bytes as read, counted (compressed bytes for gzip: what the file's size is). */
async function* rawBytes(input: Input, counter: { bytesRead: number }): AsyncGenerator<Buffer> {
  for await (const chunk of input.stream as AsyncIterable<Buffer | string>) {
    const buf = bufferOf(chunk);
    counter.bytesRead += buf.length;
    yield buf;
  }
}

/** The input's bytes, gunzipped when the first two are gzip's magic number (1f 8b). */
async function* plainBytes(input: Input, counter: { bytesRead: number }): AsyncGenerator<Buffer> {
  const raw = rawBytes(input, counter);
  const head: Buffer[] = [];
  let headBytes = 0;
  while (headBytes < 2) {
    const next = await raw.next();
    if (next.done) break;
    head.push(next.value);
    headBytes += next.value.length;
  }
  const first = Buffer.concat(head);
  if (!(first[0] === 0x1f && first[1] === 0x8b)) {
    if (first.length > 0) yield first;
    yield* raw;
    return;
  }
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  const source = Readable.from(
    (async function* () {
      yield first;
      yield* raw;
    })(),
  );
  // An error on either side ends the iteration below with it.
  pipeline(source, gunzip, () => undefined);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } finally {
    gunzip.destroy();
    source.destroy();
  }
}

/**
 * The input's bytes (UTF-8 text, gunzipped), counting the bytes taken so far; a failure to read
 * them is an ImportError saying how far it got.
 */
export async function* bytesOf(
  input: Input,
  counter: { bytesRead: number },
): AsyncGenerator<Buffer> {
  try {
    yield* plainBytes(input, counter);
  } catch (err) {
    if (err instanceof ImportError) throw err;
    throw new ImportError(
      `reading ${input.name} failed after ${counter.bytesRead} bytes: ${(err as Error).message}`,
    );
  }
}
