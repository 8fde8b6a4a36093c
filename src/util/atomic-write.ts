/**
 * Writes a file so that readers see either the old or the new content, never a part: the data
 * goes to a temporary file in the same directory, which is then renamed over the target. A crash
 * leaves at most a stray `.tmp-*` file, never a truncated target.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** `data`: text, or bytes (several parts are written one after another). */
export async function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temporary, typeof data === 'string' || data instanceof Uint8Array ? data : Buffer.concat(data));
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
